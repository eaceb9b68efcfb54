//! LeNet-1998's convolutions, C1 and C3 (through the paper's connection table): im2col +
//! GEMM, so that SDLM's Gauss-Newton pass can square the im2col matrix, then the layer's
//! activation.

use super::squash::{activate, deactivate};
use super::{bias, weight, Activation, Build, Built, ConvKernels, Dims, Layer, Pass, Tensor};
use crate::error::Result;
use crate::gpu::View;
use crate::kernels::conv::{ConvForwardViews, ConvInputGradViews, ConvUse, ConvWeightGradViews};
use crate::kernels::conv_direct::ConvInput;
use crate::kernels::table::NONE;
use crate::model::params::{ParamLayout, ParamSpec};
use crate::model::summary::LayerInfo;
use crate::shapes::ConvShape;

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
        vec![LayerInfo::new(self.name, kind, self.activation, input, self.output(input), params)]
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        let s = conv_shape(input.dims, b.batch, self.channels, self.kernel);
        build_gemm_conv(b, input, s, &self.prefix(), self.activation, None)
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
        vec![LayerInfo::new(self.name, kind, self.activation, input, self.output(input), params)]
    }

    fn build(&self, b: &Build, input: &Tensor) -> Result<Built> {
        let s = conv_shape(input.dims, b.batch, self.table.len() as u32, self.kernel);
        build_gemm_conv(b, input, s, &self.prefix(), self.activation, Some(self))
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

/// Conv (+ activation) by im2col + GEMM, with its weights from the parameters or, for a
/// [`TableConv`], spread into a dense kernel.
fn build_gemm_conv(
    b: &Build,
    input: &Tensor,
    s: ConvShape,
    prefix: &str,
    activation: Activation,
    table: Option<&TableConv>,
) -> Result<Built> {
    let u = ConvUse {
        relu: false,
        pool: false,
        keep_y: true,
        train: b.train(),
        input_grad: input.grad.is_some(),
        im2col: true,
    };
    let c = b.kernels.conv_choice(s, u);
    let (weight_name, bias_name) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
    let dims = Dims::Map { c: s.oc, h: s.out_h(), w: s.out_w() };
    let label = if activation == Activation::None { prefix.to_string() } else { format!("{prefix}_a") };
    let pre = Tensor::new(b, &label, dims, b.train());
    let col = b.buffer(&format!("act.{prefix}.col"), s.col_len());
    let tables = table.map(|t| Tables {
        span: t.span(b.layout),
        dense: b.gpu.storage_from(&format!("{prefix}.dense_index"), &t.dense_index(b.layout)),
        stored: b.gpu.storage_from(&format!("{prefix}.stored_index"), &t.stored_index(b.layout)),
    });
    // The dense kernel a pass multiplies with: the parameters (or their squares), through
    // the table where there is one.
    let kernel_of = |pass: Pass<'_>, list: &mut Vec<_>| -> Result<Option<wgpu::Buffer>> {
        let Some(t) = &tables else { return Ok(None) };
        let kernel = b.buffer(&format!("act.{prefix}.kernel"), s.w_len());
        let src = span_view(b.weights_of(pass), &t.span);
        list.push(b.kernels.table.gather_indexed(b.gpu, src, View::whole(&t.dense), View::whole(&kernel))?);
        Ok(Some(kernel))
    };
    let mut forward = Vec::new();
    let kernel = kernel_of(Pass::First, &mut forward)?;
    let w = kernel.as_ref().map_or_else(|| b.param(&weight_name), View::whole);
    let x = ConvInput::F32(input.value());
    let views = ConvForwardViews {
        x,
        col: Some(View::whole(&col)),
        w,
        bias: b.param(&bias_name),
        y: Some(pre.value()),
        pool: None,
    };
    forward.extend(b.kernels.conv_forward(b.gpu, &c, views)?);
    let output = activate(b, prefix, pre.clone(), activation, &mut forward)?;
    let mut built = Built::new(prefix, output.clone());
    built.forward = forward;
    let Some(dy) = pre.grad() else {
        return Ok(built);
    };
    let dw_partials = b.buffer(&format!("grad.{prefix}.dw_partials"), c.partials as u64 * s.w_len());
    let dkernel = tables.as_ref().map(|_| b.buffer(&format!("grad.{prefix}.kernel"), s.w_len()));
    let dcol = b.buffer_if(c.needs_dcol(), &format!("grad.{prefix}.col"), s.col_len());
    for pass in b.passes() {
        let mut list = Vec::new();
        // SDLM's pass multiplies by the squared im2col matrix and squared weights.
        let (col, kernel) = match pass {
            Pass::First => (col.clone(), kernel.clone()),
            Pass::Second(_) => {
                let sq = b.buffer(&format!("sq.{prefix}.col"), s.col_len());
                list.push(b.kernels.elementwise.square(
                    b.gpu,
                    s.col_len() as u32,
                    View::whole(&col),
                    View::whole(&sq),
                )?);
                (sq, kernel_of(pass, &mut list)?)
            }
        };
        list.extend(deactivate(b, pass, activation, &output)?);
        let dw = dkernel.as_ref().map_or_else(|| b.grad_out(pass, &weight_name), View::whole);
        let views = ConvWeightGradViews {
            x,
            col: Some(View::whole(&col)),
            dy: Some(dy),
            pool: None,
            dw_partials: View::whole(&dw_partials),
            db_partials: None,
            dw,
            db: b.grad_out(pass, &bias_name),
        };
        list.extend(b.kernels.conv_weight_grad(b.gpu, &c, views)?);
        if let (Some(t), Some(dkernel)) = (&tables, &dkernel) {
            let dst = span_view(b.grads_of(pass), &t.span);
            list.push(b.kernels.table.gather_indexed(b.gpu, View::whole(dkernel), View::whole(&t.stored), dst)?);
        }
        if let Some(dx) = input.grad() {
            let w = kernel.as_ref().map_or_else(|| b.weights(pass, &weight_name), View::whole);
            let views = ConvInputGradViews { dy, w, dcol: dcol.as_ref().map(View::whole), dx };
            list.extend(b.kernels.conv_input_grad(b.gpu, &c, views)?);
        }
        match pass {
            Pass::First => built.backward = list,
            Pass::Second(_) => built.second_order = list,
        }
    }
    Ok(built)
}
