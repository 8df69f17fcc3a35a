use std::collections::HashMap;

use kao_image::PerceptualHash;

use crate::item::Item;

/// Groups of items (indices into the slice given), each of two or more, sorted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DuplicateGroups {
    /// Byte-identical files (same content id).
    pub exact: Vec<Vec<usize>>,
    /// Different files whose perceptual hashes are within `max_distance`, joined
    /// transitively; groups that are only exact duplicates are not repeated here.
    pub near: Vec<Vec<usize>>,
}

/// Finds exact and near-duplicate groups among `items`.
pub fn duplicate_groups(items: &[Item], max_distance: u32) -> DuplicateGroups {
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        by_id.entry(item.content_id.as_str()).or_default().push(i);
    }
    let mut exact: Vec<Vec<usize>> = by_id.into_values().filter(|g| g.len() > 1).collect();
    exact.sort();

    let hashes: Vec<PerceptualHash> = items.iter().map(|i| i.phash).collect();
    let mut near: Vec<Vec<usize>> = near_groups(&hashes, max_distance)
        .into_iter()
        .filter(|g| {
            g.iter()
                .any(|&i| items[i].content_id != items[g[0]].content_id)
        })
        .collect();
    near.sort();
    DuplicateGroups { exact, near }
}

/// Connected components of "within `max_distance`" over the hashes (groups of two or more).
///
/// All pairs are compared: 64-bit XOR + popcount costs about a nanosecond, so 100,000
/// images take seconds, and an exact answer beats an index that may miss pairs.
pub fn near_groups(hashes: &[PerceptualHash], max_distance: u32) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..hashes.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            if hashes[i].distance(hashes[j]) <= max_distance {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..hashes.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    out.sort();
    out
}
