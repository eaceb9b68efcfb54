//! A plan's input stage: a batch taken from a GPU-resident dataset in a sample order.
//! Training, evaluation and the benchmark feed their plans through it.

use crate::data::GpuDataset;
use crate::error::Result;
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::data::GatherViews;
use crate::model::{Ctx, InputSource, Mode, NetSpec, Plan};
use crate::shapes::GatherParams;

/// A plan with the gather that feeds it.
pub struct Feeder {
    pub plan: Plan,
    /// The batch's labels, and its pixels where the plan does not read them from the
    /// dataset itself.
    pub gather: Dispatch,
    image_len: u32,
}

impl Feeder {
    /// A plan of `batch` images in `mode`, fed from `data` in the sample order `order`.
    pub fn new(
        ctx: &Ctx,
        net: NetSpec,
        data: &GpuDataset,
        order: &wgpu::Buffer,
        batch: u32,
        mode: Mode,
    ) -> Result<Feeder> {
        let plan = net.plan(ctx, batch, mode, InputSource::Dataset { images: &data.images, order })?;
        let (images, order) = (View::whole(&data.images), View::whole(order));
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
        let views =
            GatherViews { images, all_labels: View::whole(&data.labels), order, x, labels: View::whole(plan.labels()) };
        let gather =
            ctx.kernels.gather.gather_batch(ctx.gpu, GatherParams { offset: 0, batch, image_len, _pad: 0 }, views)?;
        Ok(Feeder { plan, gather, image_len })
    }

    /// Points the batch at samples order[offset .. offset + batch] for the next submission.
    pub fn set_offset(&self, gpu: &Gpu, offset: u32) {
        let p = GatherParams { offset, batch: self.plan.batch, image_len: self.image_len, _pad: 0 };
        self.gather.set_uniform(gpu, &p);
        self.plan.set_first_sample(gpu, offset);
    }

    /// The gather and the forward pass.
    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.gather.record(pass);
        self.plan.record_forward(pass);
    }
}
