//! The direct input gradient: dx (N,C,H,W) = dy (N,OC,OH,OW) correlated with the flipped
//! weights, padded by K-1: dx[c, y, x] = Σ dy[o, y - ky, x - kx] · w[o, c, ky, kx]; dx is
//! overwritten. Two kernels: by image on subgroups for small planes (conv2's), by
//! blocks of dx elsewhere. Neither loads or multiplies the zero padding.

use super::{
    block_entry, block_grid, blocks_per_image, invocations, shape_name, supports, vec4s_per_window_row,
    weights_binding, weights_view, window, BlockOrder, ConvDirect, LoadSharing, CONV_INPUT_GRAD_DIRECT,
};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::generated_dispatch;
use crate::kernels::wgsl::{Access, GeneratedKernel, Wgsl, BATCH_STRUCT, COMPONENT};
use crate::shapes::ConvShape;

/// Whether [`input_grad_source`] can compute this convolution's input gradient: as
/// [`supports`], and the K-1 zero padding a multiple of 4 (a vec4 of dy is then entirely
/// inside or outside the image).
pub fn supports_input_grad(s: ConvShape) -> bool {
    supports(s) && (s.kh - 1).is_multiple_of(4)
}

/// Output rows per invocation of the block kernel (blocks of PH x 4 dx pixels).
fn input_grad_block_rows(s: ConvShape) -> u32 {
    2.min(s.h)
}

/// Most multiply-adds per dy plane in the unrolled body of [`input_grad_by_image_source`]
/// (conv2: 64 dy pixels x 25 taps = 1600; it compiles in 1.4 s).
const MAX_PLANE_TAPS: u32 = 2048;

/// Most dx pixels per plane in [`input_grad_by_image_source`]: one accumulator each per lane.
const MAX_PLANE_PIXELS: u32 = 256;

/// Whether [`input_grad_by_image_source`] computes this input gradient: dy planes of whole
/// vec4s, and few enough pixels and multiply-adds per plane to unroll them all.
fn input_grad_by_image(s: ConvShape) -> bool {
    let (oh, ow) = (s.out_h(), s.out_w());
    (oh * ow).is_multiple_of(4) && oh * ow * s.kh * s.kw <= MAX_PLANE_TAPS && s.h * s.w <= MAX_PLANE_PIXELS
}

/// The block kernel for `s` (any batch size). The loop runs over dy's channels (unrolled,
/// conv2's source took 100 s to compile), and each iteration updates every dx channel's
/// accumulators. Window row r reads dy row y0 + r - pad; rows outside dy are zero padding,
/// and which ones depends only on the block row, so there is one code path per pattern of
/// rows inside, chosen by a branch that is uniform across a SIMD group
/// (`BlockOrder::ImageGroups`): it leaves out a third of conv2's loads and multiply-adds.
pub fn input_grad_source(s: ConvShape, sharing: LoadSharing) -> GeneratedKernel {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let pad = (k - 1) as i32;
    let ph = input_grad_block_rows(s);
    let mut g = Wgsl::new(
        "src/kernels/conv_direct/input_grad.rs",
        &format!(
            "input gradient, dy ({oc},{oh},{ow}) padded by {pad} -> dx ({c},{h},{w}),\n\
             // {ph}x4 pixels per invocation, weights {sharing:?}."
        ),
    );
    g.line(BATCH_STRUCT);
    g.storage("dy", Access::Read, "array<vec4<f32>>");
    weights_binding(&mut g, s);
    g.storage("dx", Access::ReadWrite, "array<vec4<f32>>");
    g.uniform("s", "Batch");
    g.blank();
    sharing.functions(&mut g);
    g.comment("dy vec4 at row y, columns x..x+3 (x a multiple of 4) of the plane at `base`; 0 outside.");
    g.open("fn dy_at(base: u32, y: i32, x: i32) -> vec4<f32>");
    g.line(format!("let inside = y >= 0 && y < {oh} && x >= 0 && x < {ow};"));
    g.line(format!("let at = base + u32(clamp(y, 0, {})) * {}u + u32(clamp(x, 0, {})) / 4u;", oh - 1, ow / 4, ow - 4));
    g.line("return select(vec4<f32>(0.0), dy[at], inside);");
    g.close();
    let blocks = blocks_per_image(h, w, ph);
    block_entry(&mut g, CONV_INPUT_GRAD_DIRECT, BlockOrder::ImageGroups, sharing, blocks, w / 4);
    g.comment("Signed: the padded rows and columns start at -(K-1).");
    g.line(format!("let y0 = i32(block_row) * {ph};"));
    g.line("let x0 = i32(block_col) * 4;");
    g.line(format!("let dy_image = image * {}u;", oc * oh * ow / 4));
    g.line(format!("let dx_image = image * {}u;", c * h * w / 4));
    for ci in 0..c {
        for p in 0..ph {
            g.line(format!("var a_{ci}_{p} = vec4<f32>(0.0);"));
        }
    }
    g.open(format!("for (var o = 0u; o < {oc}u; o++)"));
    g.line(format!("let plane = dy_image + o * {}u;", oh * ow / 4));
    g.line(format!("let wo = o * {}u;", c * k * k));
    sharing.chunk_loads(&mut g, c * k * k, super::uniform_weights_len(s));
    for (i, (block_rows, inside)) in padding_paths(s, ph).iter().enumerate() {
        let test: Vec<String> = block_rows.iter().map(|b| format!("block_row == {b}u")).collect();
        if i == 0 {
            g.open(format!("if ({})", test.join(" || ")));
        } else {
            g.else_if(test.join(" || "));
        }
        padded_path(&mut g, s, ph, inside, sharing);
    }
    g.close();
    g.close();
    for ci in 0..c {
        for p in 0..ph {
            g.line(format!(
                "if (valid && y0 + {p} < {h}) {{ dx[dx_image + {}u + u32(y0 + {p}) * {}u + u32(x0) / 4u] = a_{ci}_{p}; }}",
                ci * h * w / 4,
                w / 4,
            ));
        }
    }
    g.close();
    g.finish(format!("conv_input_grad-{}-blocks-{}", shape_name(s), sharing.tag()), CONV_INPUT_GRAD_DIRECT)
}

/// The block rows that share each pattern of window rows inside dy: (block rows, inside).
fn padding_paths(s: ConvShape, ph: u32) -> Vec<(Vec<u32>, Vec<bool>)> {
    let pad = (s.kh - 1) as i32;
    let rows = ph + s.kh - 1;
    let mut paths: Vec<(Vec<u32>, Vec<bool>)> = Vec::new();
    for block_row in 0..s.h.div_ceil(ph) {
        let inside: Vec<bool> = (0..rows)
            .map(|r| {
                let y = (block_row * ph + r) as i32 - pad;
                y >= 0 && y < s.out_h() as i32
            })
            .collect();
        match paths.iter_mut().find(|(_, rows_inside)| *rows_inside == inside) {
            Some((block_rows, _)) => block_rows.push(block_row),
            None => paths.push((vec![block_row], inside)),
        }
    }
    paths
}

/// One code path of the block kernel: the window rows `inside` dy loaded, and only their
/// multiply-adds. Tap (ty, tx) of the padded correlation is weight (o, ci, K-1-ty, K-1-tx).
fn padded_path(g: &mut Wgsl, s: ConvShape, ph: u32, inside: &[bool], sharing: LoadSharing) {
    let (c, k) = (s.c, s.kh);
    let pad = (k - 1) as i32;
    let rows = ph + k - 1;
    for r in (0..rows).filter(|&r| inside[r as usize]) {
        for q in 0..vec4s_per_window_row(k) {
            g.line(format!("let r_{r}_{q} = dy_at(plane, y0 + {}, x0 + {});", r as i32 - pad, 4 * q as i32 - pad));
        }
        for kx in 0..k {
            g.line(format!("let x_{r}_{kx} = {};", window(&format!("r_{r}"), kx)));
        }
    }
    for ci in 0..c {
        for ty in 0..k {
            let used: Vec<u32> = (0..ph).filter(|&p| inside[(p + ty) as usize]).collect();
            if used.is_empty() {
                continue;
            }
            for tx in 0..k {
                let t = sharing.weight((ci * k + (k - 1 - ty)) * k + (k - 1 - tx));
                let fmas: String =
                    used.iter().map(|&p| format!(" a_{ci}_{p} = fma(t, x_{}_{tx}, a_{ci}_{p});", p + ty)).collect();
                g.line(format!("{{ let t = {t};{fmas} }}"));
            }
        }
    }
}

/// The input gradient on subgroups of `lanes` for small planes: one subgroup per image and
/// group of `lanes` input channels, lane = input channel, each lane accumulating its whole dx
/// plane. Every dy plane is then loaded once per image (handed to all lanes by
/// `subgroupBroadcast`), and with every position a literal only the multiply-adds whose
/// dy pixel exists are written out (conv2: 1600 of 3600 per plane); the block kernel loads
/// each dy row under every block that needs it (9 times for conv2).
fn input_grad_by_image_source(s: ConvShape, lanes: u32) -> GeneratedKernel {
    let (c, h, w, oc, k) = (s.c, s.h, s.w, s.oc, s.kh);
    let (oh, ow) = (s.out_h(), s.out_w());
    let quads = oh * ow / 4;
    let groups = c.div_ceil(lanes);
    let mut g = Wgsl::new(
        "src/kernels/conv_direct/input_grad.rs",
        &format!(
            "input gradient, dy ({oc},{oh},{ow}) -> dx ({c},{h},{w}),\n\
             // one workgroup of {lanes} per image and group of {lanes} input channels, lane = input channel."
        ),
    );
    g.line(BATCH_STRUCT);
    g.storage("dy", Access::Read, "array<vec4<f32>>");
    weights_binding(&mut g, s);
    g.storage("dx", Access::ReadWrite, "array<f32>");
    g.uniform("s", "Batch");
    g.blank();
    LoadSharing::Subgroup { lanes }.functions(&mut g);
    g.entry_point(CONV_INPUT_GRAD_DIRECT, lanes, true);
    g.line(format!("let image = min(group / {groups}u, s.n - 1u);"));
    g.line(format!("let channel = (group % {groups}u) * {lanes}u + lid;"));
    g.line(format!("let valid = group / {groups}u < s.n && channel < {c}u;"));
    g.line(format!("let ci = min(channel, {}u);", c - 1));
    for y in 0..h {
        for x in 0..w {
            g.line(format!("var a_{y}_{x} = 0.0;"));
        }
    }
    g.open(format!("for (var o = 0u; o < {oc}u; o++)"));
    g.line(format!("let plane = (image * {oc}u + o) * {quads}u;"));
    for j in 0..quads.div_ceil(lanes) {
        g.line(format!("let mine_{j} = dy[plane + min({}u + lane, {}u)];", lanes * j, quads - 1));
    }
    for q in 0..quads {
        g.line(format!("let d_{q} = subgroupBroadcast(mine_{}, {}u);", q / lanes, q % lanes));
    }
    g.line(format!("let wo = o * {}u + ci * {}u;", c * k * k, k * k));
    for t in 0..k * k {
        g.line(format!("let t_{t} = weight_at(wo + {t}u);"));
    }
    g.comment("dx[y, x] += dy[y - ky, x - kx] · w[ky, kx] wherever that dy pixel exists.");
    for y in 0..h {
        for x in 0..w {
            let terms: Vec<String> = (0..k * k)
                .filter_map(|t| {
                    let (dy_y, dy_x) = (y as i32 - (t / k) as i32, x as i32 - (t % k) as i32);
                    let inside = dy_y >= 0 && dy_y < oh as i32 && dy_x >= 0 && dy_x < ow as i32;
                    inside.then(|| {
                        let at = (dy_y as u32) * ow + dy_x as u32;
                        format!("t_{t} * d_{}.{}", at / 4, COMPONENT[(at % 4) as usize])
                    })
                })
                .collect();
            if !terms.is_empty() {
                g.line(format!("a_{y}_{x} += {};", terms.join(" + ")));
            }
        }
    }
    g.close();
    g.line(format!("let base = (image * {c}u + ci) * {}u;", h * w));
    for y in 0..h {
        for x in 0..w {
            g.line(format!("if (valid) {{ dx[base + {}u] = a_{y}_{x}; }}", y * w + x));
        }
    }
    g.close();
    g.finish(format!("conv_input_grad-{}-by-image-sg{lanes}", shape_name(s)), CONV_INPUT_GRAD_DIRECT)
}

impl ConvDirect {
    /// dx (N,C,H,W) = the input gradient of the convolution for dy (N,OC,OH,OW);
    /// overwritten. `w` as for [`ConvDirect::conv_forward_direct`]. Small planes on
    /// subgroups by image, others by blocks of dx.
    pub fn conv_input_grad_direct(&self, gpu: &Gpu, s: ConvShape, dy: View, w: View, dx: View) -> Result<Dispatch> {
        let op = CONV_INPUT_GRAD_DIRECT;
        if !supports_input_grad(s) {
            return Err(Error::ShapeMismatch { op, what: format!("cannot compute {s:?}") });
        }
        dy.require(op, "dy", s.y_len())?;
        dx.require(op, "dx", s.x_len())?;
        let w = weights_view(op, s, w)?;
        let (kernel, grid) = match self.sharing.lanes() {
            Some(lanes) if input_grad_by_image(s) => {
                (input_grad_by_image_source(s, lanes), crate::gpu::grid(s.n * s.c.div_ceil(lanes)))
            }
            _ => {
                let blocks_per_image = blocks_per_image(s.h, s.w, input_grad_block_rows(s));
                let blocks = invocations(BlockOrder::ImageGroups, self.sharing, s.n, blocks_per_image);
                (input_grad_source(s, self.sharing), block_grid(blocks))
            }
        };
        generated_dispatch(gpu, &kernel, &[("dy", dy), ("w", w), ("dx", dx)], s.n, grid)
    }
}
