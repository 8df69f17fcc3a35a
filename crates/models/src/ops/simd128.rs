//! The multiply-add every SIMD128 kernel of the browser build is made of.
//!
//! The browser runtime is built twice (see `kao_harness::build_web_runtime`): with
//! WebAssembly's relaxed SIMD, whose `f32x4.relaxed_madd` the engine compiles to one fused
//! multiply-add where the CPU has one (about a quarter faster in the products, measured in
//! docs/export.md), and without it for engines that lack the proposal, where a multiply and
//! an add (rounded twice) are what SIMD128 has. The page loads the one its browser
//! validates.

use std::arch::wasm32::*;

/// `acc + a·b` on each lane: fused or not, as the engine and CPU do it under relaxed SIMD
/// (the native kernels' FMA rounds once; both are far inside the networks' tolerance).
#[inline(always)]
pub(crate) fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}
