// The prologue of every 1-D kernel family (the loader, src/gpu/shader.rs, prepends it to
// the files that use it, so line numbers in naga's messages count these lines too).
//
// WG invocations per workgroup: crate::gpu::WG on the host. Grids of more than 65,535
// workgroups spill into y (crate::gpu::grid), so a workgroup's linear index is
// wid.x + wid.y * nwg.x, and an invocation's is linear_id(wid, nwg, lid).

const WG: u32 = 256u;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

