//! A run's metrics: the per-epoch CSV and the PNG of the loss and accuracy curves.

use std::path::Path;

use plotters::prelude::*;

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};

/// One line of `metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: u32,
    pub seconds: f64,
    /// Learning rate at the epoch's last step.
    pub lr: f32,
    pub train_loss: f32,
    pub train_accuracy: f32,
    /// On the validation split (Keras' names), when the run holds one out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f32>,
    pub test_loss: f32,
    pub test_accuracy: f32,
}

const CSV_HEADER: &str = "epoch,seconds,lr,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,test_accuracy";
/// The header before validation splits, without the two val_ columns (read for --resume).
const CSV_HEADER_BEFORE_VALIDATION: &str = "epoch,seconds,lr,train_loss,train_accuracy,test_loss,test_accuracy";

/// One row per epoch; the val_ fields are empty without a validation split.
pub fn write_csv(path: &Path, history: &[EpochReport]) -> Result<()> {
    let mut text = format!("{CSV_HEADER}\n");
    let optional = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in history {
        text += &format!(
            "{},{:.3},{:e},{},{},{},{},{},{}\n",
            r.epoch,
            r.seconds,
            r.lr,
            r.train_loss,
            r.train_accuracy,
            optional(r.val_loss),
            optional(r.val_accuracy),
            r.test_loss,
            r.test_accuracy
        );
    }
    write_atomic(path, text.as_bytes())
}

pub fn read_csv(path: &Path) -> Result<Vec<EpochReport>> {
    let text = std::fs::read_to_string(path)?;
    let bad = |line: usize, why: &str| Error::Data { path: path.to_path_buf(), reason: format!("line {line}: {why}") };
    let mut lines = text.lines().enumerate();
    let fields = match lines.next() {
        Some((_, h)) if h == CSV_HEADER => 9,
        Some((_, h)) if h == CSV_HEADER_BEFORE_VALIDATION => 7,
        _ => return Err(bad(1, "not a lenet-gpu metrics file (unexpected header)")),
    };
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut f: Vec<&str> = l.split(',').collect();
            if f.len() != fields {
                return Err(bad(i + 1, &format!("expected {fields} fields")));
            }
            if fields == 7 {
                f.splice(5..5, ["", ""]);
            }
            let num = |k: usize| f[k].parse::<f64>().map_err(|_| bad(i + 1, "not a number"));
            let optional = |k: usize| if f[k].is_empty() { Ok(None) } else { num(k).map(|v| Some(v as f32)) };
            Ok(EpochReport {
                epoch: num(0)? as u32,
                seconds: num(1)?,
                lr: num(2)? as f32,
                train_loss: num(3)? as f32,
                train_accuracy: num(4)? as f32,
                val_loss: optional(5)?,
                val_accuracy: optional(6)?,
                test_loss: num(7)? as f32,
                test_accuracy: num(8)? as f32,
            })
        })
        .collect()
}

/// The font shipped in assets/, so text renders the same on every machine. (Not on
/// wasm32, where plotters draws no text: the page draws its own curves.)
#[cfg(not(target_arch = "wasm32"))]
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, font)
            .unwrap_or_else(|_| panic!("the bundled DejaVuSans.ttf is a valid font"));
    });
}

#[cfg(target_arch = "wasm32")]
pub fn register_font() {}

/// Loss (left) and accuracy (right) per epoch, train, validation (if any) and test,
/// written atomically.
pub fn plot_curves(path: &Path, history: &[EpochReport]) -> Result<()> {
    register_font();
    let (w, h) = (1000u32, 420u32);
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    let plot_err = |e: &dyn std::fmt::Display| Error::Data { path: path.to_path_buf(), reason: format!("plot: {e}") };
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(&e))?;
        let (left, right) = root.split_horizontally(w / 2);
        let last = history.last().map_or(1, |r| r.epoch).max(1) as f32;
        // train, validation (NaN where there is none), test
        type Pick = fn(&EpochReport) -> [f32; 3];
        let panels: [(&str, &DrawingArea<_, _>, Pick); 2] = [
            ("loss", &left, |r| [r.train_loss, r.val_loss.unwrap_or(f32::NAN), r.test_loss]),
            ("accuracy", &right, |r| [r.train_accuracy, r.val_accuracy.unwrap_or(f32::NAN), r.test_accuracy]),
        ];
        let validated = history.iter().any(|r| r.val_loss.is_some());
        for (name, area, pick) in panels {
            let values: Vec<f32> = history.iter().flat_map(pick).filter(|v| v.is_finite()).collect();
            let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
            let pad = (hi - lo) * 0.05;
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(0.5f32..last + 0.5, (lo - pad)..(hi + pad))
                .map_err(|e| plot_err(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_labels((last as usize).min(10))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .light_line_style(WHITE)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| plot_err(&e))?;
            let series = [("train", BLUE, 0), ("validation", GREEN, 1), ("test", RED, 2)];
            for (label, color, index) in series.into_iter().filter(|s| s.2 != 1 || validated) {
                let pts = history.iter().map(|r| (r.epoch as f32, pick(r)[index])).filter(|p| p.1.is_finite());
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(|e| plot_err(&e))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
                chart.draw_series(pts.map(|p| Circle::new(p, 3, color.filled()))).map_err(|e| plot_err(&e))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(|e| plot_err(&e))?;
        }
        root.present().map_err(|e| plot_err(&e))?;
    }
    let image = image::RgbImage::from_raw(w, h, pixels).expect("buffer sized w*h*3");
    let mut png = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| plot_err(&e))?;
    write_atomic(path, &png)
}
