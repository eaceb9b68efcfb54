//! A plan with one scalar per image whose gradient flows back to the input: a class's
//! score or a conv channel's mean activation. Gradient ascent climbs it; saliency and
//! Grad-CAM attribute it.

use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, View};
use crate::kernels::objective::{ClassObjective, ClassObjectiveViews};
use crate::model::lenet5::CLASSES;
use crate::model::{Ctx, HeadKind, InputSource, Mode, NetSpec, Plan};
use crate::shapes::{ChannelShape, XentShape};
use crate::viz::weights::ConvLayer;

/// A plan built with the input's gradient, and what its images are scored by.
pub struct ObjectivePlan {
    pub plan: Plan,
    /// d objective / d (the plan's input gradient): 1 where the objective's own gradient
    /// is propagated; -N where the plan's mean loss is (the objective is then minus one
    /// image's loss).
    scale: f32,
    /// The objective and the gradient it writes, after the forward pass (none where the
    /// loss itself is the objective).
    objective: Option<Dispatch>,
    /// The tap whose gradient the objective writes (the backward starts there), or None
    /// for the whole backward from the loss.
    start: Option<String>,
    /// The objective of each image: a buffer, or minus the per-sample loss.
    values: Option<wgpu::Buffer>,
}

impl ObjectivePlan {
    /// Each image's score for the class [`ObjectivePlan::set_targets`] gives it. LeNet-5:
    /// its logit or softmax probability (`mode`). LeNet-1998, which has no logits: minus
    /// the paper's loss with that class as the label (its RBF distance down, the others'
    /// up), whatever `mode`.
    pub fn class_score(ctx: &Ctx, net: NetSpec, batch: u32, mode: ClassObjective) -> Result<Self> {
        let (gpu, k) = (ctx.gpu, ctx.kernels);
        let plan = net.plan(ctx, batch, Mode::TrainWithInputGrad, InputSource::Buffer)?;
        if plan.head_kind() == HeadKind::Rbf {
            let scale = -(batch as f32);
            return Ok(ObjectivePlan { plan, scale, objective: None, start: None, values: None });
        }
        let values = gpu.storage("objective", batch as usize);
        let logits = plan.tap("logits").expect("a softmax network has logits").tensor.clone();
        let dlogits = logits.grad.as_ref().expect("a training plan has gradients");
        let v = View::whole;
        let views = ClassObjectiveViews {
            logits: v(&logits.value),
            probs: v(plan.probs()),
            targets: v(plan.labels()),
            dlogits: v(dlogits),
            objective: v(&values),
        };
        let d = k.objective.class_objective_backward(gpu, mode, XentShape::new(batch, CLASSES), views)?;
        Ok(ObjectivePlan { plan, scale: 1.0, objective: Some(d), start: Some("logits".into()), values: Some(values) })
    }

    /// Each image's mean activation of the channel [`ObjectivePlan::set_targets`] gives
    /// it, in `layer`'s output before any pool (after its ReLU or squash; the gradient is
    /// the pre-activation's, see the conv tap of `model::layers::ConvPool`).
    pub fn channel_mean(ctx: &Ctx, net: NetSpec, batch: u32, layer: ConvLayer) -> Result<Self> {
        let name = conv_tap(net, layer)?;
        let plan = net.plan(ctx, batch, Mode::TrainWithInputGrad, InputSource::Buffer)?;
        let values = ctx.gpu.storage("objective", batch as usize);
        let t = plan.tap(&name).expect("a conv layer has a tap").tensor.clone();
        let (c, h, w) = t.dims.chw();
        let cs = ChannelShape { n: batch, c, hw: h * w, _pad: 0 };
        let dy = t.grad.as_ref().expect("a training plan has gradients");
        let v = View::whole;
        let d = ctx.kernels.objective.channel_objective_backward(
            ctx.gpu,
            cs,
            v(&t.value),
            v(plan.labels()),
            v(dy),
            v(&values),
        )?;
        Ok(ObjectivePlan { plan, scale: 1.0, objective: Some(d), start: Some(name), values: Some(values) })
    }

    pub fn batch(&self) -> u32 {
        self.plan.batch
    }

    /// What the plan's gradients are multiplied by to be the objective's.
    pub fn gradient_scale(&self) -> f32 {
        self.scale
    }

    /// +1 where the input's gradient points up the objective, -1 where down.
    pub fn sign(&self) -> f32 {
        self.scale.signum()
    }

    /// Which class or channel each image is scored by.
    pub fn set_targets(&self, gpu: &Gpu, targets: &[u32]) {
        gpu.write(View::whole(self.plan.labels()), targets);
    }

    pub fn record_forward(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.plan.record_forward(pass);
        if let Some(d) = &self.objective {
            d.record(pass);
        }
    }

    pub fn record_backward(&self, pass: &mut wgpu::ComputePass<'_>) -> Result<()> {
        match &self.start {
            Some(tap) => self.plan.record_backward_from(pass, tap),
            None => {
                self.plan.record_backward(pass);
                Ok(())
            }
        }
    }

    /// After a forward pass: each image's objective.
    pub async fn values(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        match &self.values {
            Some(buffer) => gpu.read(View::whole(buffer)).await,
            None => Ok(gpu.read::<f32>(View::whole(self.plan.loss())).await?.iter().map(|l| -l).collect()),
        }
    }

    /// The images `x` (batch x the input's length) scored by `targets`: each image's
    /// objective and its gradient with respect to the image, in one submission.
    pub async fn gradients(&self, gpu: &Gpu, x: &[f32], targets: &[u32]) -> Result<(Vec<f32>, Vec<f32>)> {
        self.set_targets(gpu, targets);
        gpu.write(View::whole(self.plan.x().expect("an f32 input")), x);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            self.record_forward(&mut pass);
            self.record_backward(&mut pass)?;
        }
        gpu.submit(encoder.finish())?;
        let grad: Vec<f32> =
            gpu.read(View::whole(self.plan.input_grad().expect("a plan with the input gradient"))).await?;
        Ok((self.values(gpu).await?, grad.iter().map(|g| g * self.scale).collect()))
    }
}

/// The tap of `layer`'s output (before any pool) in `net`.
pub fn conv_tap(net: NetSpec, layer: ConvLayer) -> Result<String> {
    let convs = net.network().convs();
    let name = convs.get(layer as usize).ok_or_else(|| Error::Config(format!("this network has no {layer:?}")))?;
    Ok(name.to_lowercase())
}
