//! CPU twin of `shaders/table.wgsl`.

use crate::kernels::table::NONE;

/// dst[i] = src[index[i]], or 0 where index[i] == NONE.
pub fn gather_indexed<T: Copy + num_traits::Zero>(src: &[T], index: &[u32], dst: &mut [T]) {
    for (d, &k) in dst.iter_mut().zip(index) {
        *d = if k == NONE { T::zero() } else { src[k as usize] };
    }
}
