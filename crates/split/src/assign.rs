use sha2::{Digest, Sha256};

/// Item counts for train, val and test closest to `n` in `ratios` (largest remainder; ties
/// go to the earlier split), with at least one item in every split whose ratio is not 0
/// when `n` allows it.
pub fn targets(n: usize, ratios: [u32; 3]) -> [usize; 3] {
    let total: u64 = ratios.iter().map(|&r| u64::from(r)).sum();
    let mut t = [0usize; 3];
    let mut rem = [0u64; 3];
    for i in 0..3 {
        let q = n as u64 * u64::from(ratios[i]);
        t[i] = (q / total) as usize;
        rem[i] = q % total;
    }
    let mut left = n - t.iter().sum::<usize>();
    let mut order = [0usize, 1, 2];
    order.sort_by_key(|&i| std::cmp::Reverse(rem[i]));
    for &i in &order {
        if left == 0 {
            break;
        }
        t[i] += 1;
        left -= 1;
    }
    for i in 0..3 {
        if ratios[i] > 0 && t[i] == 0 {
            let donor = (0..3)
                .max_by_key(|&j| (t[j], std::cmp::Reverse(j)))
                .unwrap_or(0);
            if t[donor] > 1 {
                t[donor] -= 1;
                t[i] += 1;
            }
        }
    }
    t
}

/// Chooses a split (0 train, 1 val, 2 test) for each group of one tag.
///
/// Groups go largest first, equal sizes in an order fixed by the seed; each goes to the
/// split furthest below its target, preferring a split still empty on a tie, and forced
/// into an empty one when only as many groups remain as empty splits.
pub fn assign(
    sizes: &[usize],
    firsts: &[&str],
    tag: &str,
    seed: u64,
    ratios: [u32; 3],
) -> Vec<usize> {
    let target = targets(sizes.iter().sum(), ratios);
    let mut order: Vec<(std::cmp::Reverse<usize>, [u8; 32], usize)> = sizes
        .iter()
        .zip(firsts)
        .enumerate()
        .map(|(g, (&size, first))| (std::cmp::Reverse(size), order_key(seed, tag, first), g))
        .collect();
    order.sort_unstable();

    let mut count = [0usize; 3];
    let mut out = vec![0usize; sizes.len()];
    for (k, &(_, _, g)) in order.iter().enumerate() {
        let remaining = order.len() - k;
        let empty: Vec<usize> = (0..3).filter(|&p| ratios[p] > 0 && count[p] == 0).collect();
        let candidates: Vec<usize> = if remaining <= empty.len() {
            empty.clone()
        } else {
            (0..3).filter(|&p| ratios[p] > 0).collect()
        };
        let deficit = |p: usize| target[p] as i64 - count[p] as i64;
        // Highest deficit; then an empty split; then the earlier split.
        let best = candidates
            .iter()
            .copied()
            .max_by_key(|&p| (deficit(p), empty.contains(&p), std::cmp::Reverse(p)))
            .unwrap_or(0);
        out[g] = best;
        count[best] += sizes[g];
    }
    out
}

/// A seeded, platform-independent shuffle key: SHA-256 of the seed, tag and group id.
fn order_key(seed: u64, tag: &str, first: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kao-split/v1\0");
    h.update(seed.to_le_bytes());
    h.update((tag.len() as u64).to_le_bytes());
    h.update(tag.as_bytes());
    h.update(first.as_bytes());
    h.finalize().into()
}
