//! MNIST-format datasets: a directory with the four standard files, or the bundled copy
//! of the original MNIST compiled into the binary (assets/mnist, see its README).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::idx::{read_idx_images, read_idx_labels};
use crate::error::{Error, Result};

pub const SIDE: usize = 28;
pub const CLASSES: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// The standard file names: (images, labels).
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    /// The bundled files' gzip bytes: (images, labels).
    pub fn bundled(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Split::Train => (
                include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz"),
                include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz"),
            ),
            Split::Test => (
                include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz"),
                include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz"),
            ),
        }
    }
}

/// N images of 28x28 u8 pixels (row-major) and their labels 0..9.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    /// Where it came from, for messages.
    pub source: String,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]
    }

    /// Image `i` as the networks take a picture: 28·28 values in [0, 1].
    pub fn input(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// The bundled original MNIST.
    pub fn bundled(split: Split) -> Result<Dataset> {
        let (images, labels) = split.bundled();
        let (img_name, lab_name) = split.file_names();
        let img_path = PathBuf::from(format!("<bundled>/{img_name}.gz"));
        let lab_path = PathBuf::from(format!("<bundled>/{lab_name}.gz"));
        Self::from_bytes(&img_path, images, &lab_path, labels)
    }

    /// The split's two files from `dir`, each either raw or with a `.gz` suffix.
    pub fn load(dir: &Path, split: Split) -> Result<Dataset> {
        let (img_name, lab_name) = split.file_names();
        let img_path = find(dir, img_name)?;
        let lab_path = find(dir, lab_name)?;
        let images = std::fs::read(&img_path)
            .map_err(|e| Error::Data { path: img_path.clone(), reason: format!("cannot read: {e}") })?;
        let labels = std::fs::read(&lab_path)
            .map_err(|e| Error::Data { path: lab_path.clone(), reason: format!("cannot read: {e}") })?;
        Self::from_bytes(&img_path, &images, &lab_path, &labels)
    }

    /// From `dir` when given, else the bundled copy.
    pub fn load_or_bundled(dir: Option<&Path>, split: Split) -> Result<Dataset> {
        match dir {
            Some(dir) => Self::load(dir, split),
            None => Self::bundled(split),
        }
    }

    pub fn from_bytes(img_path: &Path, images: &[u8], lab_path: &Path, labels: &[u8]) -> Result<Dataset> {
        let (images, n) = read_idx_images(img_path, images, SIDE)?;
        let labels = read_idx_labels(lab_path, labels, CLASSES)?;
        if labels.len() != n {
            return Err(Error::Data {
                path: lab_path.to_path_buf(),
                reason: format!("{} labels, but {} has {n} images", labels.len(), img_path.display()),
            });
        }
        if n == 0 {
            return Err(Error::Data { path: img_path.to_path_buf(), reason: "the file holds no images".into() });
        }
        Ok(Dataset { images, labels, source: img_path.parent().map(|p| p.display().to_string()).unwrap_or_default() })
    }

    /// Keras' `validation_split`: (the first samples, the last `fraction` of them held
    /// out), split where Keras splits, at int(n · (1 - fraction)); for 0, the whole set
    /// as it is (not copied) and no held-out set.
    pub fn split_validation(&self, fraction: f64) -> Result<(Cow<'_, Dataset>, Option<Dataset>)> {
        if fraction == 0.0 {
            return Ok((Cow::Borrowed(self), None));
        }
        let at = (self.len() as f64 * (1.0 - fraction)) as usize;
        if at == 0 || at >= self.len() {
            let why = format!(
                "--validation-split {fraction} of {} images leaves {} to train on and {} to validate",
                self.len(),
                at,
                self.len().saturating_sub(at)
            );
            return Err(Error::Config(why));
        }
        let held_out = Dataset {
            images: self.images[at * SIDE * SIDE..].to_vec(),
            labels: self.labels[at..].to_vec(),
            source: format!("{} (validation split)", self.source),
        };
        Ok((Cow::Owned(self.take(at)), Some(held_out)))
    }

    /// The first `n` samples (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * SIDE * SIDE].to_vec(),
            labels: self.labels[..n].to_vec(),
            source: self.source.clone(),
        }
    }
}

fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::Data { path: dir.join(name), reason: format!("not found (also tried {name}.gz) in {}", dir.display()) })
}
