//! Evaluation: the forward pass alone over a whole dataset, in large batches.

use crate::data::{Dataset, GpuDataset};
use crate::error::Result;
use crate::feeder::Feeder;
use crate::gpu::{Gpu, View};
use crate::kernels::metrics::{MetricSums, METRICS_LEN};
use crate::model::lenet5::CLASSES;
use crate::model::{Ctx, Mode, NetSpec};

/// Largest inference batch: col1 at 1000 images is 58 MB, under lavapipe's 128 MiB binding.
pub const EVAL_BATCH: u32 = 1000;

/// Loss and accuracy over a dataset, and optionally the confusion matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    pub loss: f32,
    pub accuracy: f32,
    pub samples: u32,
    /// confusion[true label][predicted class], when asked for.
    pub confusion: Option<Vec<[u32; CLASSES as usize]>>,
}

/// Evaluates whatever parameters are in `params` on a dataset kept on the GPU.
pub struct Evaluator {
    data: GpuDataset,
    labels: Vec<u8>,
    /// Full batches of `EVAL_BATCH`, then one plan for the remainder if there is one.
    full: Option<Feeder>,
    rest: Option<Feeder>,
}

impl Evaluator {
    /// Evaluates `ctx`'s parameters (its gradients are not touched) on `ds`.
    pub fn new(ctx: &Ctx, net: NetSpec, ds: &Dataset) -> Result<Self> {
        let gpu = ctx.gpu;
        let data = GpuDataset::upload(gpu, ds, "eval")?;
        let n = data.len;
        let order = gpu.storage_from("eval.order", &(0..n).collect::<Vec<u32>>());
        let feeder = |batch| Feeder::new(ctx, net, &data, &order, batch, Mode::Inference, None);
        let full = if n >= EVAL_BATCH { Some(feeder(EVAL_BATCH)?) } else { None };
        let rest = if n % EVAL_BATCH != 0 { Some(feeder(n % EVAL_BATCH)?) } else { None };
        Ok(Evaluator { data, labels: ds.labels.clone(), full, rest })
    }

    /// Runs the forward pass over every sample: one submission per batch.
    pub async fn run(&self, gpu: &Gpu, confusion: bool) -> Result<EvalResult> {
        let mut sums = MetricSums::default();
        let mut matrix = vec![[0u32; CLASSES as usize]; CLASSES as usize];
        let mut start = 0;
        while start < self.data.len {
            let feeder = match &self.full {
                Some(f) if self.data.len - start >= EVAL_BATCH => f,
                _ => self.rest.as_ref().expect("a remainder plan exists when a partial batch is left"),
            };
            let batch = feeder.plan.batch;
            feeder.set_offset(gpu, 0, start);
            gpu.write(View::whole(feeder.plan.metrics()), &[0u32; METRICS_LEN]);
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                feeder.record_forward(&mut pass);
                feeder.plan.record_metrics(&mut pass);
            }
            gpu.submit(encoder.finish())?;
            let m = MetricSums::from_words(&gpu.read::<u32>(View::whole(feeder.plan.metrics())).await?);
            sums.loss_sum += m.loss_sum;
            sums.correct += m.correct;
            sums.samples += m.samples;
            if confusion {
                let probs: Vec<f32> = gpu.read(View::whole(feeder.plan.probs())).await?;
                for (i, row) in probs.chunks_exact(CLASSES as usize).enumerate().take(batch as usize) {
                    let predicted = argmax(row);
                    matrix[self.labels[(start as usize) + i] as usize][predicted] += 1;
                }
            }
            start += batch;
        }
        Ok(EvalResult {
            loss: sums.mean_loss(),
            accuracy: sums.accuracy(),
            samples: sums.samples,
            confusion: confusion.then_some(matrix),
        })
    }
}

/// Index of the largest value; ties go to the lowest index (as the metrics kernel does).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = j;
        }
    }
    best
}
