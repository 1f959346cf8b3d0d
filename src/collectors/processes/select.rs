//! Which processes get series of their own: the top N by CPU, by RSS and by disk I/O, then
//! the processes of `per_process = true` groups, `max_processes` in all. The pinned ones that
//! find no room are counted (`vitals_process_detail_folded`); they stay in their group.

use super::table::Candidate;

/// This tick's choice, each list in pid order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Selection {
    /// The top-N processes (the `process.top.*` families).
    pub top: Vec<Candidate>,
    /// Every process with per-process (`process.detail.*`) series: `top`, then pinned ones.
    pub detail: Vec<Candidate>,
    /// Pinned processes beyond `max`.
    pub folded: u64,
}

/// Chooses among `candidates` (this tick's processes in groups); `pinned(pid)` says whether
/// the process's group asks for per-process series. `rank` is scratch space.
pub fn select(
    candidates: &[Candidate],
    n: usize,
    max: usize,
    pinned: impl Fn(u32) -> bool,
    rank: &mut Vec<(u64, usize)>,
) -> Selection {
    let mut chosen = Vec::with_capacity(3 * n);
    if n > 0 {
        let cpu = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.cpu_ticks.filter(|&t| t > 0).map(|t| (t, i)));
        top(cpu, n, rank, &mut chosen);
        let rss = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.rss > 0)
            .map(|(i, c)| (c.rss, i));
        top(rss, n, rank, &mut chosen);
        let disk = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.disk_bytes.filter(|&b| b > 0).map(|b| (b, i)));
        top(disk, n, rank, &mut chosen);
    }
    chosen.sort_unstable();
    chosen.dedup();
    chosen.truncate(max);
    let mut s = Selection {
        top: chosen.iter().map(|&i| candidates[i]).collect(),
        ..Selection::default()
    };
    s.detail = s.top.clone();
    let mut pins: Vec<Candidate> = candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| chosen.binary_search(i).is_err() && pinned(c.pid))
        .map(|(_, c)| *c)
        .collect();
    pins.sort_unstable_by_key(|c| c.pid);
    let room = max.saturating_sub(s.detail.len());
    s.folded = pins.len().saturating_sub(room) as u64;
    s.detail.extend(pins.into_iter().take(room));
    s.top.sort_unstable_by_key(|c| c.pid);
    s.detail.sort_unstable_by_key(|c| c.pid);
    s
}

/// Appends to `chosen` the indexes of the `n` highest values, using `rank` as scratch.
fn top(
    values: impl Iterator<Item = (u64, usize)>,
    n: usize,
    rank: &mut Vec<(u64, usize)>,
    chosen: &mut Vec<usize>,
) {
    rank.clear();
    rank.extend(values);
    if rank.len() > n {
        rank.select_nth_unstable_by(n, |a, b| b.cmp(a));
        rank.truncate(n);
    }
    chosen.extend(rank.iter().map(|&(_, i)| i));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pid: u32, cpu: u64, rss: u64, disk: u64) -> Candidate {
        Candidate {
            pid,
            cpu_ticks: Some(cpu),
            disk_bytes: Some(disk),
            rss,
        }
    }

    fn pids(v: &[Candidate]) -> Vec<u32> {
        v.iter().map(|c| c.pid).collect()
    }

    #[test]
    fn top_by_cpu_rss_and_disk() {
        let all = [
            c(1, 9, 1, 0),
            c(2, 0, 9, 0),
            c(3, 0, 1, 9),
            c(4, 1, 2, 1),
            c(5, 0, 0, 0),
        ];
        let s = select(&all, 1, 100, |_| false, &mut Vec::new());
        assert_eq!(pids(&s.top), [1, 2, 3]);
        assert_eq!(s.detail, s.top);
        assert_eq!(s.folded, 0);
        let s = select(&all, 0, 100, |_| false, &mut Vec::new());
        assert!(s.detail.is_empty());
    }

    #[test]
    fn pinned_fill_up_to_max_and_the_rest_is_counted() {
        let all: Vec<Candidate> = (10..20).map(|p| c(p, 0, 0, 0)).collect();
        let mut more = all.clone();
        more.push(c(5, 50, 50, 50));
        let s = select(&more, 1, 4, |p| p >= 10, &mut Vec::new());
        assert_eq!(pids(&s.top), [5]);
        assert_eq!(pids(&s.detail), [5, 10, 11, 12]);
        assert_eq!(s.folded, 7);
        let s = select(&all, 0, 0, |_| true, &mut Vec::new());
        assert_eq!((s.detail.len(), s.folded), (0, 10));
    }
}
