//! Augmentation of the training set: what the input stage draws for each image (a recipe's
//! part). `kernels::augment` runs it on the GPU, `reference::augment` is its twin.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which transforms the input stage draws, each image anew every epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentKind {
    /// The images as they are.
    #[default]
    None,
    /// Whole-pixel translations in ±shift on each axis (no resampling).
    Shift,
    /// Translation ±shift, rotation ±rotate, size 1 ± zoom, shear ±shear, bilinear.
    Affine,
    /// The affine transform plus Simard et al. 2003's elastic distortion: uniform noise
    /// per pixel and axis, smoothed by a Gaussian of elastic_sigma, times elastic_alpha.
    Elastic,
}

impl AugmentKind {
    /// Its code in the kernel's uniform.
    pub fn code(self) -> u32 {
        match self {
            AugmentKind::None => 0,
            AugmentKind::Shift => 1,
            AugmentKind::Affine => 2,
            AugmentKind::Elastic => 3,
        }
    }
}

/// The transforms and their strengths, in pixels and degrees of the 28x28 image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    pub kind: AugmentKind,
    /// Largest translation on each axis, pixels.
    pub shift: f32,
    /// Largest rotation, degrees.
    pub rotate: f32,
    /// Largest relative change of size.
    pub zoom: f32,
    /// Largest shear angle, degrees.
    pub shear: f32,
    /// Elastic displacement's scale, pixels per unit of smoothed noise (Simard's 34).
    pub elastic_alpha: f32,
    /// Elastic smoothing's standard deviation, pixels (Simard's 4).
    pub elastic_sigma: f32,
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation::none()
    }
}

impl Augmentation {
    /// No augmentation. The strengths are what `--augment` starts from: the default
    /// recipe's, the best of those measured in 10 epochs (BENCHMARKS.md).
    pub fn none() -> Self {
        Augmentation {
            kind: AugmentKind::None,
            shift: 1.5,
            rotate: 8.0,
            zoom: 0.08,
            shear: 8.0,
            elastic_alpha: 34.0,
            elastic_sigma: 4.0,
        }
    }

    pub fn is_none(&self) -> bool {
        self.kind == AugmentKind::None
    }

    /// What a run's first lines say it draws: "affine (shift 1.5 px, rotation 8°, …)".
    pub fn describe(&self) -> String {
        let affine =
            format!("shift {} px, rotation {}°, zoom {}, shear {}°", self.shift, self.rotate, self.zoom, self.shear);
        match self.kind {
            AugmentKind::None => "none".into(),
            AugmentKind::Shift => format!("shift (whole pixels, up to {} px)", self.shift),
            AugmentKind::Affine => format!("affine ({affine})"),
            AugmentKind::Elastic => {
                format!("elastic ({affine}, alpha {}, sigma {} px)", self.elastic_alpha, self.elastic_sigma)
            }
        }
    }

    /// The elastic field's Gaussian reaches 3 sigma, within the image.
    pub fn radius(&self, side: u32) -> u32 {
        ((3.0 * self.elastic_sigma).ceil() as u32).min(side.saturating_sub(1))
    }

    pub fn check(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Config(m));
        let within = |name: &str, v: f32, hi: f32| {
            if v.is_finite() && (0.0..=hi).contains(&v) {
                Ok(())
            } else {
                fail(format!("--{name} must be in [0, {hi}], got {v}"))
            }
        };
        within("shift", self.shift, 14.0)?;
        within("rotate", self.rotate, 180.0)?;
        within("zoom", self.zoom, 0.9)?;
        within("shear", self.shear, 60.0)?;
        within("elastic-alpha", self.elastic_alpha, 1000.0)?;
        if !(self.elastic_sigma.is_finite() && self.elastic_sigma > 0.0 && self.elastic_sigma <= 28.0) {
            return fail(format!("--elastic-sigma must be in (0, 28], got {}", self.elastic_sigma));
        }
        Ok(())
    }
}
