//! Evaluation: the forward pass alone over a whole dataset, in large batches.

use crate::data::{Dataset, GpuDataset};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::data::GatherViews;
use crate::kernels::metrics::{MetricSums, METRICS_LEN};
use crate::kernels::Kernels;
use crate::model::lenet5::{CLASSES, IMAGE_LEN};
use crate::model::{Mode, NetSpec, Network, ParamLayout};
use crate::shapes::GatherParams;

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

/// A plan (inference or training) with the gather that feeds it from a GPU-resident
/// dataset.
pub struct Feeder {
    pub plan: Box<dyn Network>,
    /// The batch's pixels and labels; only the labels where the plan reads the pixels
    /// from the dataset itself (`Network::read_input_from`).
    pub gather: Dispatch,
    image_len: u32,
}

impl Feeder {
    /// A plan of `batch` images in `mode`, fed from `data` in the sample order `order`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        k: &Kernels,
        net: NetSpec,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        grads: &wgpu::Buffer,
        curvature: Option<&wgpu::Buffer>,
        data: &GpuDataset,
        order: &wgpu::Buffer,
        batch: u32,
        mode: Mode,
    ) -> Result<Feeder> {
        let mut plan = net.plan(gpu, k, layout, params, grads, curvature, batch, mode)?;
        let (images, order) = (View::whole(&data.images), View::whole(order));
        let reads_dataset = plan.read_input_from(gpu, k, layout, params, images, order)?;
        let image_len = if reads_dataset { 0 } else { IMAGE_LEN };
        let views = GatherViews {
            images,
            all_labels: View::whole(&data.labels),
            order,
            x: View::whole(plan.x()),
            labels: View::whole(plan.labels()),
        };
        let p = GatherParams { offset: 0, batch, image_len, _pad: 0 };
        let gather = k.gather.gather_batch(gpu, p, views)?;
        Ok(Feeder { plan, gather, image_len })
    }

    /// Points the batch at samples order[offset .. offset + batch] for the next submission.
    pub fn set_offset(&self, gpu: &Gpu, offset: u32) {
        let p = GatherParams { offset, batch: self.plan.batch(), image_len: self.image_len, _pad: 0 };
        gpu.queue.write_buffer(&self.gather.uniform, 0, bytemuck::bytes_of(&p));
        self.plan.set_first_sample(gpu, offset);
    }
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
    pub fn new(
        gpu: &Gpu,
        k: &Kernels,
        net: NetSpec,
        layout: &ParamLayout,
        params: &wgpu::Buffer,
        ds: &Dataset,
    ) -> Result<Self> {
        let data = GpuDataset::upload(gpu, ds, "eval")?;
        let n = data.len;
        let order = gpu.storage_from("eval.order", &(0..n).collect::<Vec<u32>>());
        let no_grads = gpu.storage("eval.no_grads", 1);
        let feeder =
            |batch| Feeder::new(gpu, k, net, layout, params, &no_grads, None, &data, &order, batch, Mode::Inference);
        let full = if n >= EVAL_BATCH { Some(feeder(EVAL_BATCH)?) } else { None };
        let rest = if n % EVAL_BATCH != 0 { Some(feeder(n % EVAL_BATCH)?) } else { None };
        Ok(Evaluator { data, labels: ds.labels.clone(), full, rest })
    }

    /// Runs the forward pass over every sample: one submission per batch.
    pub fn run(&self, gpu: &Gpu, confusion: bool) -> Result<EvalResult> {
        let mut sums = MetricSums::default();
        let mut matrix = vec![[0u32; CLASSES as usize]; CLASSES as usize];
        let mut start = 0;
        while start < self.data.len {
            let feeder = match &self.full {
                Some(f) if self.data.len - start >= EVAL_BATCH => f,
                _ => self.rest.as_ref().expect("a remainder plan exists when a partial batch is left"),
            };
            let batch = feeder.plan.batch();
            feeder.set_offset(gpu, start);
            gpu.write(View::whole(feeder.plan.metrics()), &[0u32; METRICS_LEN]);
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                feeder.gather.record(&mut pass);
                feeder.plan.record_forward(&mut pass);
                feeder.plan.record_metrics(&mut pass);
            }
            gpu.queue.submit([encoder.finish()]);
            let m = MetricSums::from_words(&gpu.read::<u32>(View::whole(feeder.plan.metrics()))?);
            sums.loss_sum += m.loss_sum;
            sums.correct += m.correct;
            sums.samples += m.samples;
            if confusion {
                let probs: Vec<f32> = gpu.read(View::whole(feeder.plan.probs()))?;
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
