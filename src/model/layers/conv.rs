//! LeNet-1998's convolutions, C1 and C3 (through the paper's connection table), then the
//! layer's activation. SDLM's Gauss-Newton pass runs the same kernels on the squared input
//! and weights.

use super::squash::{activate, deactivate};
use super::subsampled::ConvLayer;
use super::{bias, weight, Activation, Build, Built, ConvKernels, Dims, Layer, Pass, Subsample, Tensor};
use crate::error::{Error, Result};
use crate::export::onnx::{Attr, Graph};
use crate::gpu::{Dispatch, View};
use crate::kernels::conv::{
    ConvChoice, ConvForwardViews, ConvInputGradViews, ConvUse, ConvWeightGradViews, ForwardPath,
};
use crate::kernels::conv_direct::{ConvInput, SubsampleOutput};
use crate::kernels::squash::SquashFn;
use crate::kernels::table::NONE;
use crate::kernels::Kernels;
use crate::model::params::{ParamLayout, ParamSpec};
use crate::model::summary::LayerInfo;
use crate::shapes::{ConvShape, ZeroPadShape};

/// conv `channels`@`kernel`x`kernel` (valid, stride 1) with bias, then `activation`.
pub struct Conv {
    pub name: &'static str,
    pub channels: u32,
    pub kernel: u32,
    pub activation: Activation,
}

/// As [`Conv`], each output map reading only the input maps its row of `table` lists. The
/// stored weights are `groups` (name, first map, maps): each a (maps, inputs, K, K)
/// tensor of the maps that read as many inputs; unconnected weights do not exist. On the
/// GPU they are spread into a dense (OC, C, K, K) kernel through an index table (zeros
/// where there is no connection) and the dense gradient is gathered back, so unconnected
/// weights are never stored, counted or updated.
pub struct TableConv {
    pub name: &'static str,
    pub kernel: u32,
    pub activation: Activation,
    pub table: &'static [&'static [u32]],
    pub groups: &'static [(&'static str, u32, u32)],
}

impl Conv {
    fn prefix(&self) -> String {
        self.name.to_lowercase()
    }
}

impl TableConv {
    fn prefix(&self) -> String {
        self.name.to_lowercase()
    }

    /// Input maps (C).
    fn inputs(&self) -> u32 {
        self.table.iter().flat_map(|row| row.iter()).max().map_or(0, |&m| m + 1)
    }

    /// The element range of the flat parameter buffer that holds the group tensors.
    pub fn span(&self, layout: &ParamLayout) -> std::ops::Range<usize> {
        let first = layout.get(self.groups[0].0);
        let last = layout.get(self.groups[self.groups.len() - 1].0);
        first.offset..last.offset + last.len()
    }

    /// For each entry of the dense (OC, C, K, K) kernel, the index into [`TableConv::span`]
    /// of its stored weight, or NONE where the table has no connection.
    pub fn dense_index(&self, layout: &ParamLayout) -> Vec<u32> {
        let span = self.span(layout);
        let (c, taps) = (self.inputs() as usize, (self.kernel * self.kernel) as usize);
        let mut index = vec![NONE; self.table.len() * c * taps];
        for &(name, first, count) in self.groups {
            let t = layout.get(name);
            let inputs = self.table[first as usize].len();
            for m in 0..count as usize {
                let map = first as usize + m;
                for (k, &input) in self.table[map].iter().enumerate() {
                    for tap in 0..taps {
                        let stored = t.offset + (m * inputs + k) * taps + tap - span.start;
                        index[(map * c + input as usize) * taps + tap] = stored as u32;
                    }
                }
            }
        }
        index
    }

    /// For each entry of the dense (OC, C, K, K) kernel, (group, index in that group's
    /// tensor) of its stored weight, or None where the table has no connection.
    fn dense_index_by_group(&self, layout: &ParamLayout) -> Vec<Option<(usize, usize)>> {
        let offsets: Vec<usize> = self.groups.iter().map(|&(name, _, _)| layout.get(name).offset).collect();
        let span = self.span(layout);
        self.dense_index(layout)
            .iter()
            .map(|&i| {
                (i != NONE).then(|| {
                    let at = span.start + i as usize;
                    let group = offsets.iter().rposition(|&o| o <= at).expect("inside the span");
                    (group, at - offsets[group])
                })
            })
            .collect()
    }

    /// Where each group starts when the group tensors are concatenated without padding,
    /// and the length of that concatenation (where the zero goes).
    fn groups_in_concat(&self, layout: &ParamLayout) -> (Vec<usize>, usize) {
        let mut starts = Vec::new();
        let mut at = 0;
        for &(name, _, _) in self.groups {
            starts.push(at);
            at += layout.get(name).len();
        }
        (starts, at)
    }

    /// The inverse: for each element of [`TableConv::span`], its entry in the dense kernel,
    /// or NONE for the padding between the tensors.
    pub fn stored_index(&self, layout: &ParamLayout) -> Vec<u32> {
        let mut index = vec![NONE; self.span(layout).len()];
        for (dense, &stored) in self.dense_index(layout).iter().enumerate() {
            if stored != NONE {
                index[stored as usize] = dense as u32;
            }
        }
        index
    }
}

/// The (C, H, W) -> (OC, OH, OW) maps of a valid convolution.
fn conv_output(input: Dims, channels: u32, kernel: u32) -> Dims {
    let (_, h, w) = input.chw();
    Dims::Map { c: channels, h: h - kernel + 1, w: w - kernel + 1 }
}

fn conv_shape(input: Dims, batch: u32, channels: u32, kernel: u32) -> ConvShape {
    let (c, h, w) = input.chw();
    ConvShape::new(batch, c, h, w, channels, kernel)
}

impl Layer for Conv {
    fn export(&self, g: &mut Graph, x: &str, _input: Dims) -> Result<String> {
        let p = self.prefix();
        let (w, b) = (g.param(&format!("{p}.weight")), g.param(&format!("{p}.bias")));
        let k = self.kernel as i64;
        let y = g.node("Conv", &p, &[x, &w, &b], vec![("kernel_shape", Attr::Ints(vec![k, k]))]);
        Ok(self.activation.export(g, &p, y))
    }

    fn output(&self, input: Dims) -> Dims {
        conv_output(input, self.channels, self.kernel)
    }

    fn params(&self, input: Dims) -> Vec<ParamSpec> {
        let (c, k) = (input.chw().0 as usize, self.kernel as usize);
        let w = weight(format!("{}.weight", self.prefix()), &[self.channels as usize, c, k, k]);
        vec![w, bias(format!("{}.bias", self.prefix()), self.channels)]
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = self.params(input).iter().map(ParamSpec::len).sum();
        let kind = format!("Conv {0}x{0}", self.kernel);
        let (c, k, maps) = (input.chw().0 as usize, self.kernel as usize, self.channels as usize);
        let row = LayerInfo::new(self.name, kind, self.activation, input, self.output(input), params);
        vec![row.per_position(maps * (c * k * k + 1), maps * c * k * k)]
    }

    fn input_row_width(&self, k: &Kernels, input: Dims, batch: u32) -> Option<u32> {
        k.conv_widened(conv_shape(input, batch, self.channels, self.kernel)).map(|s| s.w)
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        self.build_then(b, input, None)
    }

    fn conv_name(&self) -> Option<&'static str> {
        Some(self.name)
    }

    fn conv_kernels(&self, layout: &ParamLayout, params: &[f32]) -> Option<ConvKernels> {
        let t = layout.get(&format!("{}.weight", self.prefix()));
        let shape = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
        Some(ConvKernels { shape, weights: params[t.range()].to_vec(), connected: None })
    }
}

impl Layer for TableConv {
    /// A Conv whose dense (OC, C, K, K) kernel the graph gathers from the stored group
    /// tensors through the table, zeros where there is no connection: the initializers keep
    /// the checkpoint's names and shapes, and the table is in the file, as on the GPU.
    fn export(&self, g: &mut Graph, x: &str, input: Dims) -> Result<String> {
        let p = self.prefix();
        let mut flat = Vec::new();
        for &(name, _, _) in self.groups {
            let t = g.param(name);
            let all = g.constant_i64(&format!("{p}_flat"), &[1], &[-1]);
            flat.push(g.node("Reshape", &format!("{p}_flat"), &[&t, &all], vec![]));
        }
        flat.push(g.constant(&format!("{p}_zero"), &[1], &[0.0]));
        let refs: Vec<&str> = flat.iter().map(String::as_str).collect();
        let stored = g.node("Concat", &format!("{p}_stored"), &refs, vec![("axis", Attr::Int(0))]);
        // Index into the concatenated groups (whose padding the layout's offsets skip).
        let group_starts = self.groups_in_concat(g.layout());
        let zero = group_starts.1;
        let index: Vec<i64> = self
            .dense_index_by_group(g.layout())
            .iter()
            .map(|i| i.map_or(zero as i64, |(group, at)| (group_starts.0[group] + at) as i64))
            .collect();
        let index = g.constant_i64(&format!("{p}_table"), &[index.len() as i64], &index);
        let dense = g.node("Gather", &format!("{p}_dense"), &[&stored, &index], vec![("axis", Attr::Int(0))]);
        let (c, k) = (input.chw().0 as i64, self.kernel as i64);
        let shape = g.constant_i64(&format!("{p}_kernel_shape"), &[4], &[self.table.len() as i64, c, k, k]);
        let kernel = g.node("Reshape", &format!("{p}_kernel"), &[&dense, &shape], vec![]);
        let b = g.param(&format!("{p}.bias"));
        let y = g.node("Conv", &p, &[x, &kernel, &b], vec![("kernel_shape", Attr::Ints(vec![k, k]))]);
        Ok(self.activation.export(g, &p, y))
    }

    fn output(&self, input: Dims) -> Dims {
        conv_output(input, self.table.len() as u32, self.kernel)
    }

    fn params(&self, _input: Dims) -> Vec<ParamSpec> {
        let k = self.kernel as usize;
        let mut out: Vec<ParamSpec> = self
            .groups
            .iter()
            .map(|&(name, first, count)| weight(name, &[count as usize, self.table[first as usize].len(), k, k]))
            .collect();
        out.push(bias(format!("{}.bias", self.prefix()), self.table.len() as u32));
        out
    }

    fn rows(&self, input: Dims) -> Vec<LayerInfo> {
        let params = self.params(input).iter().map(ParamSpec::len).sum();
        let kind = format!("Conv {0}x{0}, table", self.kernel);
        // Each map reads only its row of the table.
        let area = (self.kernel * self.kernel) as usize;
        let weights: usize = self.table.iter().map(|inputs| inputs.len() * area).sum();
        let row = LayerInfo::new(self.name, kind, self.activation, input, self.output(input), params);
        vec![row.per_position(weights + self.table.len(), weights)]
    }

    fn input_row_width(&self, k: &Kernels, input: Dims, batch: u32) -> Option<u32> {
        k.conv_widened(conv_shape(input, batch, self.table.len() as u32, self.kernel)).map(|s| s.w)
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        self.build_then(b, input, None)
    }

    /// The dense (OC, C, K, K) kernel, the table's gaps left as zeros and marked.
    fn conv_name(&self) -> Option<&'static str> {
        Some(self.name)
    }

    fn conv_kernels(&self, layout: &ParamLayout, params: &[f32]) -> Option<ConvKernels> {
        let index = self.dense_index(layout);
        let stored = &params[self.span(layout)];
        let weights = index.iter().map(|&i| if i == NONE { 0.0 } else { stored[i as usize] }).collect();
        let taps = (self.kernel * self.kernel) as usize;
        let connected = Some(index.chunks(taps).map(|k| k[0] != NONE).collect());
        let (k, c) = (self.kernel as usize, self.inputs() as usize);
        Some(ConvKernels { shape: [self.table.len(), c, k, k], weights, connected })
    }
}

impl ConvLayer for Conv {
    fn build_then(&self, b: &Build, input: &Tensor, then: Option<&Subsample>) -> Result<Built> {
        let s = conv_shape(input.dims, b.batch, self.channels, self.kernel);
        build_conv(b, input, s, (&self.prefix(), self.activation), None, then)
    }
}

impl ConvLayer for TableConv {
    fn build_then(&self, b: &Build, input: &Tensor, then: Option<&Subsample>) -> Result<Built> {
        let s = conv_shape(input.dims, b.batch, self.table.len() as u32, self.kernel);
        build_conv(b, input, s, (&self.prefix(), self.activation), Some(self), then)
    }
}

/// The part of `buffer` (laid out as the parameters) that holds `span`.
fn span_view<'a>(buffer: &'a wgpu::Buffer, span: &std::ops::Range<usize>) -> View<'a> {
    View { buffer, offset: span.start as u64, len: span.len() as u64 }
}

/// The index tables of a [`TableConv`] on the GPU: dense kernel <- stored weights, and back.
struct Tables {
    span: std::ops::Range<usize>,
    dense: wgpu::Buffer,
    stored: wgpu::Buffer,
}

/// Conv (+ activation), with its weights from the parameters or, for a [`TableConv`],
/// spread into a dense kernel; the activation fused into the forward where its kernel can,
/// and on an input widened with zeros where the kernels choose so ([`ConvChoice::widening`]).
/// With `then`, the subsampling after it, fused into the forward where the kernel can
/// (y then stored only where read: by the backward, or as feature maps).
fn build_conv(
    b: &Build,
    input: &Tensor,
    s: ConvShape,
    (prefix, activation): (&str, Activation),
    table: Option<&TableConv>,
    then: Option<&Subsample>,
) -> Result<Built> {
    let wanted = activation.in_kernel();
    let u = ConvUse {
        activation: wanted,
        pool: false,
        subsample: then.is_some_and(|sub| sub.fused_activation().is_some()),
        keep_y: then.is_none() || b.mode.keeps_outputs(),
        train: b.train(),
        input_grad: input.grad.is_some(),
    };
    let c = b.kernels.conv_choice(s, u);
    let fused = c.activation == wanted;
    let label = if fused || activation == Activation::None { prefix.to_string() } else { format!("{prefix}_a") };
    let dims = Dims::Map { c: s.oc, h: s.out_h(), w: s.out_w() };
    // The subsampling the forward does, and its output.
    let fused_sub = then.filter(|_| c.subsample).map(|sub| (sub, sub.fused_output(b, dims)));
    let conv = KernelConv {
        b,
        c,
        prefix,
        activation,
        // Not where the convolution's output is a tap a gradient may start from (gradient
        // ascent): that gradient is w.r.t. the output, which its squash's backward turns.
        squash_in_next: match activation {
            Activation::Squash(f) if then.is_some() && !b.mode.keeps_outputs() => Some(f),
            _ => None,
        },
        input,
        tables: table.map(|t| Tables {
            span: t.span(b.layout),
            dense: b.gpu.storage_from(&format!("{prefix}.dense_index"), &t.dense_index(b.layout)),
            stored: b.gpu.storage_from(&format!("{prefix}.stored_index"), &t.stored_index(b.layout)),
        }),
        wide: c.widening().map(|pads| Widened::new(b, prefix, pads, input)).transpose()?,
        col: b.buffer_if(c.needs_col(), &format!("act.{prefix}.col"), c.shape.col_len()),
        // Not where the forward subsamples and nothing reads y (an evaluation's).
        y: (fused_sub.is_none() || c.store_y).then(|| Tensor::new(b, &label, dims, b.train())),
    };
    let mut forward = Vec::new();
    let kernel = conv.kernel(Pass::First, &mut forward)?;
    let sub_views = fused_sub.as_ref().map(|(sub, out)| sub.fused_views(b, out));
    forward.extend(conv.forward(kernel.as_ref(), sub_views)?);
    let Some(y) = conv.y.clone() else {
        // Only the subsampling's output is written (and there is no backward).
        let (sub, out) = fused_sub.expect("y is left out only where the forward subsamples");
        let mut built = Built::new(&sub.prefix(), out);
        built.forward = forward;
        return Ok(built);
    };
    let output = match (fused, activation) {
        (true, Activation::Squash(_)) => y.clone(),
        _ => activate(b, prefix, y.clone(), activation, &mut forward)?,
    };
    let mut built = Built::new(prefix, output.clone());
    built.forward = forward;
    if y.grad.is_some() {
        let s = c.shape;
        let scratch = Scratch {
            dw_partials: b.buffer(&format!("grad.{prefix}.dw_partials"), c.partials as u64 * s.w_len()),
            db_partials: b.buffer_if(
                c.bias_partials,
                &format!("grad.{prefix}.db_partials"),
                (c.partials * s.oc) as u64,
            ),
            dkernel: table.map(|_| b.buffer(&format!("grad.{prefix}.kernel"), s.w_len())),
            dcol: b.buffer_if(c.needs_dcol(), &format!("grad.{prefix}.col"), s.col_len()),
        };
        for pass in b.passes() {
            let list = conv.backward(pass, &output, kernel.as_ref(), &scratch)?;
            match pass {
                Pass::First => built.backward = list,
                Pass::Second(_) => built.second_order = list,
            }
        }
    }
    match then {
        Some(sub) => {
            let output = built.output.clone();
            Ok(built.then(sub.build_with(b, &output, fused_sub.map(|(_, out)| out), conv.squash_in_next)?))
        }
        None => Ok(built),
    }
}

/// A convolution run on its input zero-padded on the right: the wide copy of x (None where
/// the layer before stored x so: [`Tensor::row_width`]), of dy and dx in training, and the
/// pad/crop shapes of x and y.
struct Widened {
    x_pad: ZeroPadShape,
    y_pad: ZeroPadShape,
    x: Option<wgpu::Buffer>,
    dy: Option<wgpu::Buffer>,
    dx: Option<wgpu::Buffer>,
}

impl Widened {
    fn new(b: &Build, prefix: &str, (x_pad, y_pad): (ZeroPadShape, ZeroPadShape), input: &Tensor) -> Result<Self> {
        let label = |what: &str| format!("{what}.{prefix}.wide");
        let wide = x_pad.out_w;
        let stored_wide = match input.row_width {
            None => false,
            Some(w) if w == wide => true,
            Some(w) => return Err(Error::Config(format!("{prefix}: input rows stored {w} wide, read {wide} wide"))),
        };
        let input_grad = input.grad.is_some();
        Ok(Widened {
            x_pad,
            y_pad,
            x: b.buffer_if(!stored_wide, &label("act.x"), x_pad.y_len()),
            dy: b.buffer_if(b.train(), &label("grad.y"), y_pad.y_len()),
            dx: b.buffer_if(b.train() && input_grad, &label("grad.x"), x_pad.y_len()),
        })
    }
}

/// What a convolution's forward and backward share.
struct KernelConv<'a> {
    b: &'a Build<'a>,
    c: ConvChoice,
    prefix: &'a str,
    activation: Activation,
    /// The squash whose backward the subsampling after it (in the same layer) does, its dx
    /// then being w.r.t. the pre-activation: the convolution's own.
    squash_in_next: Option<SquashFn>,
    input: &'a Tensor,
    tables: Option<Tables>,
    wide: Option<Widened>,
    /// The im2col matrix, where the chosen kernels need one.
    col: Option<wgpu::Buffer>,
    /// What the forward kernel writes (the output before the activation, or after it where
    /// the kernel applies it), and the gradient w.r.t. the pre-activation; None where the
    /// forward only subsamples it.
    y: Option<Tensor>,
}

/// The backward's scratch, shared by both passes.
struct Scratch {
    dw_partials: wgpu::Buffer,
    db_partials: Option<wgpu::Buffer>,
    /// The dense kernel's gradient, gathered back through the table.
    dkernel: Option<wgpu::Buffer>,
    dcol: Option<wgpu::Buffer>,
}

impl KernelConv<'_> {
    fn weight_name(&self) -> String {
        format!("{}.weight", self.prefix)
    }

    fn bias_name(&self) -> String {
        format!("{}.bias", self.prefix)
    }

    /// The dense kernel a pass multiplies with, spread through the table from the
    /// parameters (or their squares), the dispatch pushed onto `list`; None without a table.
    fn kernel(&self, pass: Pass, list: &mut Vec<Dispatch>) -> Result<Option<wgpu::Buffer>> {
        let (b, s) = (self.b, self.c.shape);
        let Some(t) = &self.tables else { return Ok(None) };
        let kernel = b.buffer(&format!("act.{}.kernel", self.prefix), s.w_len());
        let src = span_view(b.weights_of(pass), &t.span);
        list.push(b.kernels.table.gather_indexed(b.gpu, src, View::whole(&t.dense), View::whole(&kernel))?);
        Ok(Some(kernel))
    }

    /// The weights of `pass`: the dense `kernel`, or the parameter tensor.
    fn weights<'k>(&'k self, pass: Pass<'k>, kernel: Option<&'k wgpu::Buffer>) -> View<'k> {
        kernel.map_or_else(|| self.b.weights(pass, &self.weight_name()), View::whole)
    }

    /// The input the kernels read: the layer's, or its widened copy.
    fn x(&self) -> View<'_> {
        self.wide.as_ref().and_then(|w| w.x.as_ref()).map_or_else(|| self.input.value(), View::whole)
    }

    fn forward(&self, kernel: Option<&wgpu::Buffer>, subsample: Option<SubsampleOutput>) -> Result<Vec<Dispatch>> {
        let (b, mut list) = (self.b, Vec::new());
        if let Some((w, x)) = self.wide.as_ref().and_then(|w| Some((w, w.x.as_ref()?))) {
            list.push(b.kernels.zero_pad.zero_pad_forward(b.gpu, w.x_pad, self.input.value(), View::whole(x))?);
        }
        let views = ConvForwardViews {
            x: ConvInput::F32(self.x()),
            col: self.col.as_ref().map(View::whole),
            w: self.weights(Pass::First, kernel),
            bias: b.param(&self.bias_name()),
            y: self.y.as_ref().map(Tensor::value),
            pool: None,
            subsample,
        };
        list.extend(b.kernels.conv_forward(b.gpu, &self.c, views)?);
        Ok(list)
    }

    /// From the gradient of `output` (the activation's): the activation's backward, the
    /// weight and bias gradients (through the table where there is one) and dx where the
    /// input has a gradient. SDLM's pass runs the same kernels on the squared input (the
    /// squared im2col matrix, where the forward made one) and the squared weights.
    fn backward(
        &self,
        pass: Pass,
        output: &Tensor,
        kernel: Option<&wgpu::Buffer>,
        scratch: &Scratch,
    ) -> Result<Vec<Dispatch>> {
        let (b, s, c) = (self.b, self.c.shape, &self.c);
        let mut list = Vec::new();
        // SDLM's pass: the squared im2col matrix where the forward made one, else the
        // squared input (whose im2col matrix is the square of x's).
        let (mut sq_x, mut sq_col) = (None, None);
        let kernel = match pass {
            Pass::First => kernel.cloned(),
            Pass::Second(_) => {
                let mut square = |what: &str, from: View, len: u64| -> Result<wgpu::Buffer> {
                    let sq = b.buffer(&format!("sq.{}.{what}", self.prefix), len);
                    list.push(b.kernels.elementwise.square(b.gpu, len as u32, from, View::whole(&sq))?);
                    Ok(sq)
                };
                match &self.col {
                    Some(col) if c.forward == ForwardPath::Gemm => {
                        sq_col = Some(square("col", View::whole(col), s.col_len())?)
                    }
                    _ => sq_x = Some(square("x", self.x(), s.x_len())?),
                }
                self.kernel(pass, &mut list)?
            }
        };
        let x = sq_x.as_ref().map_or_else(|| self.x(), View::whole);
        let col = sq_col.as_ref().or(self.col.as_ref()).map(View::whole);
        if self.squash_in_next.is_none() {
            list.extend(deactivate(b, pass, self.activation, output)?);
        }
        let pre_grad = self.y.as_ref().and_then(Tensor::grad).expect("a training plan's conv has a gradient");
        let dy = match &self.wide {
            Some(w) => {
                let dy = View::whole(w.dy.as_ref().expect("allocated for training"));
                list.push(b.kernels.zero_pad.zero_pad_forward(b.gpu, w.y_pad, pre_grad, dy)?);
                dy
            }
            None => pre_grad,
        };
        let dw = scratch.dkernel.as_ref().map_or_else(|| b.grad_out(pass, &self.weight_name()), View::whole);
        let views = ConvWeightGradViews {
            x: ConvInput::F32(x),
            col,
            dy: Some(dy),
            pool: None,
            dw_partials: View::whole(&scratch.dw_partials),
            db_partials: scratch.db_partials.as_ref().map(View::whole),
            dw,
            db: b.grad_out(pass, &self.bias_name()),
        };
        list.extend(b.kernels.conv_weight_grad(b.gpu, c, views)?);
        if let (Some(t), Some(dkernel)) = (&self.tables, &scratch.dkernel) {
            let dst = span_view(b.grads_of(pass), &t.span);
            list.push(b.kernels.table.gather_indexed(b.gpu, View::whole(dkernel), View::whole(&t.stored), dst)?);
        }
        if let Some(dx) = self.input.grad() {
            let w = self.weights(pass, kernel.as_ref());
            let wide_dx = self.wide.as_ref().map(|w| View::whole(w.dx.as_ref().expect("allocated with dx")));
            let views =
                ConvInputGradViews { dy, w, dcol: scratch.dcol.as_ref().map(View::whole), dx: wide_dx.unwrap_or(dx) };
            list.extend(b.kernels.conv_input_grad(b.gpu, c, views)?);
            if let (Some(w), Some(wide_dx)) = (&self.wide, wide_dx) {
                list.push(b.kernels.zero_pad.zero_pad_backward(b.gpu, w.x_pad, wide_dx, dx)?);
            }
        }
        Ok(list)
    }
}
