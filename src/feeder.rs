//! A plan's input stage: a batch taken from a GPU-resident dataset in a sample order,
//! as it is or through a random transform per image. Training, evaluation and the
//! benchmark feed their plans through it.

use crate::augment::Augmentation;
use crate::data::{GpuDataset, SIDE};
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::data::GatherViews;
use crate::model::{Ctx, InputSource, Mode, NetSpec, Plan};
use crate::shapes::{AugmentParams, GatherParams};

/// The uniform of the input stage's dispatch, rewritten for every batch.
enum Stage {
    /// `gather_batch`: the pixels as they are (none where the plan reads them itself).
    Gather { image_len: u32 },
    /// `augment_batch`: each image through its draw.
    Augment(AugmentParams),
}

/// A plan with the gather that feeds it.
pub struct Feeder {
    pub plan: Plan,
    /// The batch's labels, and its pixels where the plan does not read them from the
    /// dataset itself.
    pub gather: Dispatch,
    stage: Stage,
}

impl Feeder {
    /// A plan of `batch` images in `mode`, fed from `data` in the sample order `order`,
    /// through `augment`'s draws from its seed when given one.
    pub fn new(
        ctx: &Ctx,
        net: NetSpec,
        data: &GpuDataset,
        order: &wgpu::Buffer,
        batch: u32,
        mode: Mode,
        augment: Option<(&Augmentation, u64)>,
    ) -> Result<Feeder> {
        let augment = augment.filter(|(a, _)| !a.is_none());
        // An augmented batch is new pixels: the plan cannot read them from the dataset.
        let source =
            if augment.is_some() { InputSource::Buffer } else { InputSource::Dataset { images: &data.images, order } };
        let plan = net.plan(ctx, batch, mode, source)?;
        // Pixels per image to gather: none where the plan reads them itself.
        let image_len = plan.x().map_or(0, |x| (x.size() / 4) as u32 / batch);
        let scratch;
        let x = match plan.x() {
            Some(x) => View::whole(x),
            None => {
                // The gather still binds an x; it writes none of it.
                scratch = ctx.gpu.storage("x.unused", 4);
                View::whole(&scratch)
            }
        };
        let views = GatherViews {
            images: View::whole(&data.images),
            all_labels: View::whole(&data.labels),
            order: View::whole(order),
            x,
            labels: View::whole(plan.labels()),
        };
        let (gather, stage) = match augment {
            Some((a, seed)) => {
                let p = AugmentParams::new(a, batch, SIDE as u32, seed, 255.0);
                (ctx.kernels.augment.augment_batch(ctx.gpu, p, views)?, Stage::Augment(p))
            }
            None => {
                let p = GatherParams { offset: 0, batch, image_len, _pad: 0 };
                (ctx.kernels.gather.gather_batch(ctx.gpu, p, views)?, Stage::Gather { image_len })
            }
        };
        Ok(Feeder { plan, gather, stage })
    }

    /// Points the batch at samples order[offset .. offset + batch] of `epoch` (whose
    /// draws an augmenting feeder makes) for the next submission.
    pub fn set_offset(&self, gpu: &Gpu, epoch: u32, offset: u32) {
        let batch = self.plan.batch;
        match self.stage {
            Stage::Gather { image_len } => {
                self.gather.set_uniform(gpu, &GatherParams { offset, batch, image_len, _pad: 0 })
            }
            Stage::Augment(p) => self.gather.set_uniform(gpu, &AugmentParams { offset, epoch, ..p }),
        }
        self.plan.set_first_sample(gpu, offset);
    }

    /// The gather and the forward pass.
    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.gather.record(pass);
        self.plan.record_forward(pass);
    }
}
