//! Pictures of the explanations: an input beside its attribution map and the map laid
//! over it, with the colour scale; the mistakes as a captioned grid; the confusion matrix.

use image::Rgb;

use super::render::{legend, range, Canvas, Colormap, Grid, BLACK, GRAY, WHITE};
use crate::model::lenet5::IMAGE_SIDE;

/// How a map's values are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapScale {
    /// Signed: red below zero, blue above, white at zero, symmetric about it.
    Signed,
    /// From 0 to the largest value (Grad-CAM's ReLU'd map).
    Positive,
}

const SCALE: u32 = 8;
const PAD: u32 = 16;

/// Three panels for a 28x28 `input` and its 28x28 `map`: the input, the map (with its
/// colour bar) and the map's magnitude over the input; `title` above, `caption` below.
pub fn render_attribution(title: &str, caption: &str, input: &[f32], map: &[f32], scale: MapScale) -> Canvas {
    let side = IMAGE_SIDE;
    let px = side * SCALE;
    let (w, h) = (PAD + 3 * (px + PAD), 40 + px + 60);
    let mut canvas = Canvas::new(w, h.max(40 + px + 60));
    canvas.text(PAD as i32, 8, 18.0, BLACK, title);
    let top = 40;
    let at = |i: u32| PAD + i * (px + PAD);
    let (cmap, lo, hi) = match scale {
        MapScale::Signed => {
            let m = map.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
            (Colormap::RedBlue, -m, m)
        }
        MapScale::Positive => (Colormap::Magma, 0.0, range(map).1.max(1e-12)),
    };
    canvas.map((at(0), top), input, (side, side), SCALE, Colormap::Gray, (0.0, 1.0));
    canvas.map((at(1), top), map, (side, side), SCALE, cmap, (lo, hi));
    // The overlay: the input in grey, the map's magnitude as an opaque-as-strong heat.
    let peak = lo.abs().max(hi);
    for y in 0..side * SCALE {
        for x in 0..side * SCALE {
            let i = ((y / SCALE) * side + x / SCALE) as usize;
            let grey = input[i].clamp(0.0, 1.0) * 255.0;
            let t = (map[i].abs() / peak).clamp(0.0, 1.0);
            let heat = match scale {
                MapScale::Signed => cmap.color(0.5 + 0.5 * map[i] / peak),
                MapScale::Positive => cmap.color(t),
            };
            let a = 0.85 * t.sqrt();
            let mix = |c: u8| ((1.0 - a) * grey + a * c as f32).round() as u8;
            canvas.image.put_pixel(at(2) + x, top + y, Rgb([mix(heat.0[0]), mix(heat.0[1]), mix(heat.0[2])]));
        }
    }
    canvas.frame(at(2) as i32 - 1, top as i32 - 1, px + 2, px + 2, GRAY);
    for (i, name) in ["input", "attribution", "over the input"].iter().enumerate() {
        canvas.text(at(i as u32) as i32, (top + px + 4) as i32, 12.0, GRAY, name);
    }
    legend(&mut canvas, at(1), top + px + 22, px, cmap, (lo, hi));
    canvas.text(at(2) as i32, (top + px + 22) as i32, 12.0, BLACK, caption);
    canvas
}

/// The test images a model gets wrong, each captioned "#index: true→predicted p".
pub fn render_mistakes(title: String, images: &[Vec<f32>], captions: Vec<String>) -> Canvas {
    let maps = images.iter().map(|v| v.as_slice()).zip(captions).collect();
    Grid {
        title,
        maps,
        h: IMAGE_SIDE,
        w: IMAGE_SIDE,
        scale: 4,
        columns: 8,
        cmap: Colormap::Gray,
        shared_range: Some((0.0, 1.0)),
    }
    .render()
}

/// The confusion matrix (rows: true class, columns: predicted) with counts, each cell
/// coloured by its share of the row (so that the off-diagonal errors show).
pub fn render_confusion(title: &str, matrix: &[[u32; 10]]) -> Canvas {
    const CELL: u32 = 44;
    let (left, top) = (70, 70);
    let mut canvas = Canvas::new(left + 10 * CELL + 110, top + 10 * CELL + 20);
    canvas.text(PAD as i32, 8, 18.0, BLACK, title);
    canvas.text((left + 3 * CELL) as i32, 34, 13.0, GRAY, "predicted class");
    canvas.text(8, (top + 4 * CELL) as i32, 13.0, GRAY, "true");
    for (r, row) in matrix.iter().enumerate() {
        let total = row.iter().sum::<u32>().max(1) as f32;
        for (c, &n) in row.iter().enumerate() {
            // Shares on a square-root scale: a 1% error is visible next to a 99% diagonal.
            let t = (n as f32 / total).sqrt();
            let (x, y) = (left + c as u32 * CELL, top + r as u32 * CELL);
            canvas.fill(x as i32, y as i32, CELL, CELL, Colormap::Viridis.color(t));
            let text = n.to_string();
            let (tw, th) = canvas.text_size(12.0, &text);
            let ink = if t > 0.6 { BLACK } else { WHITE };
            canvas.text((x + (CELL - tw) / 2) as i32, (y + (CELL - th) / 2) as i32, 12.0, ink, &text);
        }
        let label = r.to_string();
        canvas.text((left - 16) as i32, (top + r as u32 * CELL + CELL / 2 - 7) as i32, 13.0, BLACK, &label);
        canvas.text((left + r as u32 * CELL + CELL / 2 - 4) as i32, (top - 18) as i32, 13.0, BLACK, &label);
    }
    let (bar_x, bar_top, bar_len) = (left + 10 * CELL + 20, top + 20, 10 * CELL - 40);
    canvas.text(bar_x as i32, top as i32, 12.0, GRAY, "share of row");
    for i in 0..bar_len {
        let t = 1.0 - i as f32 / (bar_len - 1) as f32;
        canvas.fill(bar_x as i32, (bar_top + i) as i32, 16, 1, Colormap::Viridis.color(t));
    }
    for (share, text) in [(1.0f32, "100%"), (0.25, "25%"), (0.01, "1%"), (0.0, "0%")] {
        let y = bar_top + ((1.0 - share.sqrt()) * (bar_len - 1) as f32) as u32;
        canvas.text((bar_x + 20) as i32, y as i32 - 6, 12.0, BLACK, text);
    }
    canvas
}
