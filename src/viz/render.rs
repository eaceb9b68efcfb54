//! Raster drawing shared by every picture: a canvas with text in the bundled font,
//! colormaps, upscaled maps laid out in titled grids.

use std::path::Path;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};

pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
pub const GRAY: Rgb<u8> = Rgb([110, 110, 110]);

/// DejaVu Sans, shipped in assets/ so text looks the same everywhere.
pub fn font() -> FontRef<'static> {
    FontRef::try_from_slice(include_bytes!("../../assets/fonts/DejaVuSans.ttf")).expect("bundled font is valid")
}

/// How values become colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colormap {
    Gray,
    /// matplotlib's default, what the tutorial's feature maps show.
    Viridis,
    Magma,
    /// Diverging red-white-blue, centred at zero: for weights.
    RedBlue,
}

impl Colormap {
    /// Colour for t in [0, 1] (clamped).
    pub fn color(self, t: f32) -> Rgb<u8> {
        let t = if t.is_finite() { t.clamp(0.0, 1.0) as f64 } else { 0.0 };
        let c = match self {
            Colormap::Gray => {
                let v = (t * 255.0).round() as u8;
                return Rgb([v, v, v]);
            }
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Colormap::Magma => colorous::MAGMA.eval_continuous(t),
            // colorous' RED_BLUE runs red -> blue; negative weights red, positive blue.
            Colormap::RedBlue => colorous::RED_BLUE.eval_continuous(t),
        };
        Rgb([c.r, c.g, c.b])
    }
}

/// A white canvas with drawing helpers.
pub struct Canvas {
    pub image: RgbImage,
    font: FontRef<'static>,
}

impl Canvas {
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas { image: RgbImage::from_pixel(width.max(1), height.max(1), WHITE), font: font() }
    }

    pub fn text(&mut self, x: i32, y: i32, size: f32, color: Rgb<u8>, text: &str) {
        draw_text_mut(&mut self.image, color, x, y, PxScale::from(size), &self.font, text);
    }

    /// Width and height of `text` at `size` pixels.
    pub fn text_size(&self, size: f32, text: &str) -> (u32, u32) {
        text_size(PxScale::from(size), &self.font, text)
    }

    pub fn fill(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb<u8>) {
        draw_filled_rect_mut(&mut self.image, Rect::at(x, y).of_size(w.max(1), h.max(1)), color);
    }

    pub fn frame(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb<u8>) {
        draw_hollow_rect_mut(&mut self.image, Rect::at(x, y).of_size(w.max(1), h.max(1)), color);
    }

    /// Draws `values` (h x w, row-major) at (x, y), each value a `scale` x `scale` block
    /// (nearest-neighbour), mapped from [lo, hi] through `cmap`.
    pub fn map(
        &mut self,
        (x, y): (u32, u32),
        values: &[f32],
        (h, w): (u32, u32),
        scale: u32,
        cmap: Colormap,
        (lo, hi): (f32, f32),
    ) {
        let span = if hi > lo { hi - lo } else { 1.0 };
        for r in 0..h {
            for c in 0..w {
                let color = cmap.color((values[(r * w + c) as usize] - lo) / span);
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (x + c * scale + dx, y + r * scale + dy);
                        if px < self.image.width() && py < self.image.height() {
                            self.image.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
        self.frame(x as i32 - 1, y as i32 - 1, w * scale + 2, h * scale + 2, GRAY);
    }

    /// Writes the canvas as PNG (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        save_png(path, &self.image)
    }
}

pub fn save_png(path: &Path, image: &RgbImage) -> Result<()> {
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Data { path: path.to_path_buf(), reason: format!("encoding PNG: {e}") })?;
    write_atomic(path, &png)
}

/// Smallest and largest finite value (0..1 when there is none or all are equal).
pub fn range(values: &[f32]) -> (f32, f32) {
    let lo = values.iter().copied().filter(|v| v.is_finite()).fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().filter(|v| v.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo, lo + 1.0)
    } else {
        (0.0, 1.0)
    }
}

/// A titled grid of equally sized maps, `columns` per row, each with a caption.
pub struct Grid<'a> {
    pub title: String,
    pub maps: Vec<(&'a [f32], String)>,
    pub h: u32,
    pub w: u32,
    pub scale: u32,
    pub columns: u32,
    pub cmap: Colormap,
    /// One range for all maps (comparable colours) or None for each map's own range.
    pub shared_range: Option<(f32, f32)>,
}

const PAD: u32 = 12;
const TITLE: f32 = 18.0;
const CAPTION: f32 = 12.0;

impl Grid<'_> {
    pub fn size(&self) -> (u32, u32) {
        let cols = self.columns.min(self.maps.len() as u32).max(1);
        let rows = (self.maps.len() as u32).div_ceil(cols).max(1);
        let cell_w = self.w * self.scale + PAD;
        let cell_h = self.h * self.scale + PAD + CAPTION as u32 + 4;
        let title_w = text_size(PxScale::from(TITLE), &font(), &self.title).0 + 2 * PAD;
        ((PAD + cols * cell_w).max(title_w), PAD + TITLE as u32 + 8 + rows * cell_h)
    }

    /// Draws the grid with its top-left corner at (x, y).
    pub fn draw(&self, canvas: &mut Canvas, x: u32, y: u32) {
        canvas.text((x + PAD) as i32, (y + PAD / 2) as i32, TITLE, BLACK, &self.title);
        let cols = self.columns.max(1);
        let top = y + PAD + TITLE as u32 + 8;
        for (i, (values, caption)) in self.maps.iter().enumerate() {
            let (r, c) = (i as u32 / cols, i as u32 % cols);
            let cx = x + PAD + c * (self.w * self.scale + PAD);
            let cy = top + r * (self.h * self.scale + PAD + CAPTION as u32 + 4);
            canvas.text(cx as i32, cy as i32, CAPTION, GRAY, caption);
            let range = self.shared_range.unwrap_or_else(|| range(values));
            canvas.map((cx, cy + CAPTION as u32 + 4), values, (self.h, self.w), self.scale, self.cmap, range);
        }
    }

    pub fn render(&self) -> Canvas {
        let (w, h) = self.size();
        let mut canvas = Canvas::new(w, h);
        self.draw(&mut canvas, 0, 0);
        canvas
    }
}

/// A horizontal colour bar from `lo` to `hi` with its end values written under it.
pub fn legend(canvas: &mut Canvas, x: u32, y: u32, width: u32, cmap: Colormap, (lo, hi): (f32, f32)) {
    for i in 0..width {
        let color = cmap.color(i as f32 / (width.max(2) - 1) as f32);
        canvas.fill((x + i) as i32, y as i32, 1, 12, color);
    }
    canvas.frame(x as i32 - 1, y as i32 - 1, width + 2, 14, GRAY);
    canvas.text(x as i32, (y + 16) as i32, CAPTION, BLACK, &format!("{lo:.3}"));
    let hi_text = format!("{hi:.3}");
    let (tw, _) = canvas.text_size(CAPTION, &hi_text);
    canvas.text((x + width) as i32 - tw as i32, (y + 16) as i32, CAPTION, BLACK, &hi_text);
    if lo < 0.0 && hi > 0.0 {
        let zero_x = x + ((0.0 - lo) / (hi - lo) * width as f32) as u32;
        canvas.text(zero_x as i32 - 3, (y + 16) as i32, CAPTION, BLACK, "0");
    }
}
