//! LeNet-1998's activation as a step of the layer it follows: y = f(a) after the layer's
//! forward, and before its backward the gradient turned, in place, from d/dy into d/da
//! (times f'(a)², for SDLM's Gauss-Newton pass).

use super::{Activation, Build, Pass, Tensor};
use crate::error::Result;
use crate::gpu::{Dispatch, View};

/// The layer's output after `act`, from its pre-activation `pre`: `pre` itself (a ReLU is
/// fused into the layer's kernel; the tensor is marked as a ReLU's output), or f(pre), whose
/// gradient is `pre`'s own buffer (the squash's backward works in place on it). The squash's
/// dispatch is pushed onto `forward`.
pub(super) fn activate(
    b: &Build,
    label: &str,
    pre: Tensor,
    act: Activation,
    forward: &mut Vec<Dispatch>,
) -> Result<Tensor> {
    match act {
        Activation::None | Activation::Softmax => Ok(pre),
        Activation::Relu => Ok(Tensor { relu: true, ..pre }),
        Activation::Squash(f) => {
            let len = pre.len(b.batch);
            let y = b.buffer(&format!("act.{label}"), len);
            forward.push(b.kernels.squash.squash_forward(b.gpu, f, len as u32, pre.value(), View::whole(&y))?);
            Ok(Tensor { value: y, ..pre })
        }
    }
}

/// For a squashed `output` (as [`activate`] returns it), the dispatch that turns its
/// gradient into its pre-activation's, for `pass`; none for other activations.
pub(super) fn deactivate(b: &Build, pass: Pass, act: Activation, output: &Tensor) -> Result<Option<Dispatch>> {
    let (Activation::Squash(f), Some(g)) = (act, output.grad()) else {
        return Ok(None);
    };
    let second = matches!(pass, Pass::Second(_));
    let len = output.len(b.batch) as u32;
    Ok(Some(b.kernels.squash.squash_backward(b.gpu, f, second, len, output.value(), g)?))
}
