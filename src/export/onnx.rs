//! A network and its parameters as an ONNX model (opset 13): every layer writes its own
//! nodes (`Layer::export`) into a [`Graph`], parameter tensors become initializers under
//! their checkpoint names and shapes, the input is (N, 1, 28, 28) pixels in [0, 1] with a
//! dynamic batch N, and the output is the class scores before any softmax: LeNet-5's 10
//! logits, LeNet-1998's 10 RBF distances (the nearest bitmap is the prediction).

use std::collections::HashMap;

use prost::Message;

use super::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto};
use crate::error::{Error, Result};
use crate::model::{Arch, Dims, NetSpec, ParamLayout};

/// The opset the nodes are written for (Reduce* and Unsqueeze take their axes as inputs).
pub const OPSET: i64 = 13;
/// The ONNX IR version of opset 13.
const IR_VERSION: i64 = 7;

/// The nodes and initializers of a graph under construction.
pub struct Graph<'a> {
    layout: &'a ParamLayout,
    params: &'a [f32],
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    names: usize,
}

/// An attribute of a node.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

impl<'a> Graph<'a> {
    fn new(layout: &'a ParamLayout, params: &'a [f32]) -> Self {
        Graph { layout, params, nodes: Vec::new(), initializers: Vec::new(), names: 0 }
    }

    /// The parameter layout the graph's initializers come from.
    pub fn layout(&self) -> &'a ParamLayout {
        self.layout
    }

    /// Parameter tensor `name` as an initializer of that name and its checkpoint shape
    /// (once, however often it is asked for).
    pub fn param(&mut self, name: &str) -> String {
        if self.initializers.iter().any(|t| t.name.as_deref() == Some(name)) {
            return name.to_string();
        }
        let t = self.layout.get(name);
        let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
        self.push_f32(name.to_string(), dims, &self.params[t.range()]);
        name.to_string()
    }

    /// A constant f32 tensor; `hint` names it (made unique).
    pub fn constant(&mut self, hint: &str, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh(hint);
        self.push_f32(name.clone(), dims.to_vec(), data);
        name
    }

    /// A constant i64 tensor (shapes, axes, pads, indices).
    pub fn constant_i64(&mut self, hint: &str, dims: &[i64], data: &[i64]) -> String {
        let name = self.fresh(hint);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(pb::TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Int64 as i32),
            raw_data: Some(raw),
            ..Default::default()
        });
        name
    }

    fn push_f32(&mut self, name: String, dims: Vec<i64>, data: &[f32]) {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(pb::TensorProto {
            name: Some(name),
            dims,
            data_type: Some(DataType::Float as i32),
            raw_data: Some(raw),
            ..Default::default()
        });
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.names += 1;
        format!("{hint}_{}", self.names)
    }

    /// One node of `op` on `inputs`; returns the name of its (one) output, made from `hint`.
    pub fn node(&mut self, op: &str, hint: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let output = self.fresh(hint);
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let base = pb::AttributeProto { name: Some(name.to_string()), ..Default::default() };
                match a {
                    Attr::Int(i) => pb::AttributeProto { i: Some(i), r#type: Some(AttributeType::Int as i32), ..base },
                    Attr::Ints(v) => pb::AttributeProto { ints: v, r#type: Some(AttributeType::Ints as i32), ..base },
                    Attr::Float(f) => {
                        pb::AttributeProto { f: Some(f), r#type: Some(AttributeType::Float as i32), ..base }
                    }
                }
            })
            .collect();
        self.nodes.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: Some(output.clone()),
            op_type: Some(op.to_string()),
            attribute,
            ..Default::default()
        });
        output
    }

    /// `x` times a scalar.
    pub fn scale(&mut self, hint: &str, x: &str, by: f32) -> String {
        let c = self.constant(&format!("{hint}_factor"), &[], &[by]);
        self.node("Mul", hint, &[x, &c], vec![])
    }

    /// Per-channel parameter `name` (C) shaped (1, C, 1, 1), to broadcast over NCHW maps.
    pub fn per_channel(&mut self, name: &str) -> String {
        let p = self.param(name);
        let shape = self.constant_i64(&format!("{name}_shape"), &[4], &[1, -1, 1, 1]);
        self.node("Reshape", &format!("{name}_per_channel"), &[&p, &shape], vec![])
    }
}

/// The ONNX type of an f32 tensor of `dims` per image, batch dimension `N`.
fn value_info(name: &str, dims: Dims) -> pb::ValueInfoProto {
    let batch = tensor_shape_proto::Dimension {
        value: Some(tensor_shape_proto::dimension::Value::DimParam("N".into())),
        ..Default::default()
    };
    let per_image = dims.shape().into_iter().map(|d| tensor_shape_proto::Dimension {
        value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
        ..Default::default()
    });
    let tensor = type_proto::Tensor {
        elem_type: Some(DataType::Float as i32),
        shape: Some(pb::TensorShapeProto { dim: std::iter::once(batch).chain(per_image).collect() }),
    };
    pb::ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(pb::TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

/// The name of the graph's input, and of its output for each network.
pub const INPUT: &str = "x";

/// The output's name: LeNet-5's logits, LeNet-1998's RBF distances.
pub fn output_name(net: NetSpec) -> &'static str {
    match net.arch {
        Arch::Lenet5 => "logits",
        Arch::Lenet1998 => "distances",
    }
}

/// The `metadata_props` of an exported model: who made it, the network, and what the
/// checkpoint's own metadata says of its training.
pub fn onnx_metadata(arch: Arch, checkpoint: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut metadata = vec![
        ("producer".to_string(), format!("lenet-gpu {}", env!("CARGO_PKG_VERSION"))),
        ("architecture".to_string(), arch.checkpoint_name().to_string()),
    ];
    for key in ["recipe", "epoch", "test_accuracy", "test_loss"] {
        if let Some(v) = checkpoint.get(key) {
            metadata.push((key.to_string(), v.clone()));
        }
    }
    metadata
}

/// The ONNX model of `net` with `params` (laid out as `layout`), `metadata` in its
/// `metadata_props` (see [`onnx_metadata`]), serialized.
pub fn export_onnx(
    net: NetSpec,
    layout: &ParamLayout,
    params: &[f32],
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    if params.len() != layout.padded_len {
        let what = format!("{} parameters for a layout of {}", params.len(), layout.padded_len);
        return Err(Error::ShapeMismatch { op: "export_onnx", what });
    }
    let network = net.network();
    let mut g = Graph::new(layout, params);
    let (mut x, mut dims) = (INPUT.to_string(), network.input);
    for layer in &network.layers {
        x = layer.export(&mut g, &x, dims)?;
        dims = layer.output(dims);
    }
    let output = output_name(net);
    g.nodes.push(pb::NodeProto {
        input: vec![x],
        output: vec![output.to_string()],
        name: Some(output.to_string()),
        op_type: Some("Identity".into()),
        ..Default::default()
    });
    let graph = pb::GraphProto {
        node: g.nodes,
        name: Some(network.name.to_string()),
        initializer: g.initializers,
        doc_string: Some(format!("{} exported by lenet-gpu", network.title)),
        input: vec![value_info(INPUT, network.input)],
        output: vec![value_info(output, dims)],
        ..Default::default()
    };
    let metadata_props = metadata
        .iter()
        .map(|(k, v)| pb::StringStringEntryProto { key: Some(k.clone()), value: Some(v.clone()) })
        .collect();
    let model = pb::ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![pb::OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("lenet-gpu".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(format!("{}: input {INPUT} (N, 1, 28, 28) pixels in [0, 1], output {output}", network.title)),
        graph: Some(graph),
        metadata_props,
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}
