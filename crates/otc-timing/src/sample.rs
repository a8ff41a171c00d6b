//! Sampled timing: simulate the SMs of a sample and extrapolate (never the default).
//!
//! CTAs are placed statically (the i-th CTA on SM `i % num_sms`) and SMs share nothing but the
//! L2 contents, decided by the pre-pass in CTA order, and fixed bandwidth shares. So when every
//! CTA still goes through the L2 pre-pass, an SM simulated alone gives exactly the cycles and
//! counters it gives in the full simulation. Sampled timing ([`crate::Simulator::set_sample`])
//! therefore times only the CTAs of `n` of the `U` SMs that get CTAs, one in each of `n` equal
//! parts, SM `floor((j + u_j) U / n)` with `u_0 = 0` (SM 0, which gets the most CTAs and the
//! coldest L2, is always one) and `u_j = frac(j x 0.618...)` (a fixed jitter, so that the sample
//! does not alias a grid whose width divides `U / n`): every other CTA is recorded, looked up in the L2 and dropped. `n` is given, or by
//! default one SM in [`DEFAULT_FRACTION`], at least 2 (10 of the V100's 80). The choice
//! depends only on `U` and `n`, never on the host threads. With `U <= n` every SM is timed and
//! the statistics equal the full ones (`exact`).
//!
//! Extrapolation ([`Sample`]):
//! - **Counters** (and the per-pc rows): SM 0's count once (a certainty unit: always timed, and
//!   with the coldest L2 it would overcount misses and memory stalls if it stood for others);
//!   those of the other timed SMs are scaled by `scale` = warp-instructions of the other SMs /
//!   of the other timed SMs (a ratio estimator; the warp-instructions of every CTA are known from
//!   its recorded trace). With SM 0 alone timed, its counters are scaled to the whole launch. The L2 counters scale by the L2 pre-pass's
//!   own counts, known for every CTA: `l2.hits` by its hits (all / timed CTAs), `l2.misses` by
//!   its misses, `dram.read_bytes` by its load misses, `dram.write_bytes` by its store misses
//!   (the first CTAs of a GEMM miss where the later ones hit: scaling those by the work would
//!   overcount). `ctas`, `warps`,
//!   `sms_used` and `warp_instructions` are exact; `occupancy.max_ctas_per_sm` is the timed SMs'.
//! - **Cycles**: the kernel takes as long as its slowest SM. A timed SM has its exact cycles; an
//!   untimed SM `j` is predicted from a proxy `x_j` as `x_j x median(c_i / x_i)` over the timed
//!   SMs that ran as many CTAs (else all timed SMs). The proxy is its work (its CTAs'
//!   warp-instructions), its span (the sum of each CTA's longest warp: a latency-bound CTA
//!   takes as long as its longest warp) or its peak (the longest warp of any of its CTAs:
//!   latency-bound CTAs resident together overlap), whichever predicts the timed SMs best
//!   (below; the earlier on ties).
//!   `cycles` is the largest of all; `sm_cycles` holds the timed SMs' cycles and the predictions.
//! - **Expected error** of `cycles`: `sm_prediction_error` is the largest leave-one-out error of
//!   that prediction over the timed SMs (each predicted from the others' median), `e`; an
//!   untimed SM may then take up to `(1 + e)` times its prediction, and `expected_error` is by
//!   how much that could exceed `cycles`: `max(0, max_j pred_j (1 + e) - cycles) / cycles` over
//!   the untimed SMs (0 when the sample is the whole launch; infinite with one timed SM of
//!   several, where no spread can be measured).

use crate::stats::SmStats;

/// By default sampled timing times one SM in this many (at least 2).
pub const DEFAULT_FRACTION: u32 = 8;

/// The jitter step of the timed SMs' positions (1 / golden ratio: its multiples spread evenly).
const JITTER: f64 = 0.618_033_988_749_894_9;

/// What a sampled simulation timed, and how its statistics were extrapolated (in
/// [`crate::Stats::sample`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The SMs whose CTAs were simulated (ascending).
    pub timed_sms: Vec<u32>,
    /// SMs that got CTAs.
    pub sms_used: u32,
    /// CTAs simulated / in the launch.
    pub ctas_timed: u64,
    pub ctas: u64,
    /// Warp-instructions of the timed CTAs / of the launch.
    pub warp_instructions_timed: u64,
    pub warp_instructions: u64,
    /// Warp-instructions of SM 0's CTAs.
    pub warp_instructions_sm0: u64,
    /// The factor the counters of the timed SMs other than SM 0 were multiplied by:
    /// `(warp_instructions - warp_instructions_sm0) / (warp_instructions_timed -
    /// warp_instructions_sm0)` (SM 0 counts once); with SM 0 alone timed, SM 0's:
    /// `warp_instructions / warp_instructions_timed`.
    pub scale: f64,
    /// The slowest timed SM's cycles.
    pub cycles_timed: u64,
    /// Largest relative error of the per-SM cycle prediction over the timed SMs, each predicted
    /// from the others (leave-one-out).
    pub sm_prediction_error: f64,
    /// What the untimed SMs' cycles were predicted from: `"work"` (warp-instructions of their
    /// CTAs), `"peak"` (the longest warp of any of their CTAs, for latency-bound CTAs that run
    /// together), `"span"` (the sum over their CTAs of each one's longest warp, for latency-bound
    /// CTAs) or `"none"` (every SM timed).
    pub predictor: &'static str,
    /// Expected relative error of `cycles`: how far an untimed SM, within the prediction error,
    /// could run past the estimate (see the module docs).
    pub expected_error: f64,
    /// Every SM that got CTAs was timed: the statistics are those of full timing.
    pub exact: bool,
}

/// How the SMs of a launch are sampled, and what the untimed ones did (work per SM).
#[derive(Clone, Debug)]
pub(crate) struct Sampler {
    /// SMs to time (0: the default, one in [`DEFAULT_FRACTION`], at least 2).
    pub sms: u32,
    /// Per SM: whether it is timed (decided at the first push).
    pub timed: Vec<bool>,
    /// Per SM: warp-instructions of its CTAs (timed or not), the sum over them of each CTA's
    /// longest warp (its warp-instructions), and how many CTAs it got.
    pub work: Vec<u64>,
    pub span: Vec<u64>,
    /// Per SM: the most warp-instructions of one warp of its CTAs.
    pub peak: Vec<u64>,
    pub ctas_on: Vec<u64>,
    /// L2 pre-pass sectors of every CTA / of the timed CTAs / of SM 0's CTAs: [load hits, load
    /// misses, store hits, store misses].
    pub prepass: [u64; 4],
    pub prepass_timed: [u64; 4],
    pub prepass_first: [u64; 4],
    pub ctas: u64,
    pub ctas_timed: u64,
    pub warps: u64,
}

impl Sampler {
    pub fn new(sms: u32) -> Sampler {
        Sampler {
            sms,
            timed: Vec::new(),
            work: Vec::new(),
            span: Vec::new(),
            peak: Vec::new(),
            ctas_on: Vec::new(),
            prepass: [0; 4],
            prepass_timed: [0; 4],
            prepass_first: [0; 4],
            ctas: 0,
            ctas_timed: 0,
            warps: 0,
        }
    }

    /// Choose the timed SMs among the `used` SMs (of `num_sms`) that get the `num_ctas` CTAs.
    /// When the CTAs do not divide evenly, SMs `0..r` (`r = num_ctas % used`) get one CTA more
    /// than the others: each of the two groups gets its share of the sample (at least one SM),
    /// spread over it, so that both CTA counts are timed.
    pub fn resolve(&mut self, num_sms: u32, used: u32, num_ctas: u64) {
        let used = used.max(1);
        let want = if self.sms == 0 { used.div_ceil(DEFAULT_FRACTION).max(2) } else { self.sms };
        let n = want.min(used) as u64;
        let r = if num_ctas > used as u64 { num_ctas % used as u64 } else { 0 };
        let groups = if r == 0 || n < 2 {
            vec![(0, used as u64, n)]
        } else {
            let first = ((n * r + used as u64 / 2) / used as u64).clamp(1, r.min(n - 1));
            vec![(0, r, first), (r, used as u64, (n - first).min(used as u64 - r))]
        };
        self.timed = vec![false; num_sms as usize];
        for (lo, hi, k) in groups {
            for j in 0..k {
                // SM lo + (j + u_j) (hi - lo) / k with u_0 = 0 and u_j = frac(j / golden ratio):
                // one SM in each of k equal parts, jittered so that the sample does not alias a
                // grid whose width divides the stride (every timed CTA in one grid column)
                let u = (j as f64 * JITTER).fract();
                self.timed[(lo + (((j as f64 + u) * (hi - lo) as f64 / k as f64) as u64).min(hi - lo - 1)) as usize] =
                    true;
            }
        }
        self.work = vec![0; num_sms as usize];
        self.span = vec![0; num_sms as usize];
        self.peak = vec![0; num_sms as usize];
        self.ctas_on = vec![0; num_sms as usize];
    }

    /// Account a CTA of `warps` warps, `work` warp-instructions (`longest` in its longest warp)
    /// and `prepass` L2 pre-pass sectors (as [`Sampler::prepass`]) placed on SM `sm`; whether
    /// it is to be simulated.
    pub fn place(&mut self, sm: usize, warps: u64, (work, longest): (u64, u64), prepass: [u64; 4]) -> bool {
        self.ctas += 1;
        self.warps += warps;
        self.work[sm] += work;
        self.span[sm] += longest;
        self.peak[sm] = self.peak[sm].max(longest);
        self.ctas_on[sm] += 1;
        let timed = self.timed[sm];
        self.ctas_timed += timed as u64;
        for (i, &p) in prepass.iter().enumerate() {
            self.prepass[i] += p;
            self.prepass_timed[i] += p * timed as u64;
            self.prepass_first[i] += p * (sm == 0) as u64;
        }
        timed
    }

    /// Extrapolate the statistics of SM 0 (`first`) and the summed statistics of the other timed
    /// SMs (`rest`), whose cycles are `sm_cycles` (0 for the untimed ones): the estimated
    /// statistics, every SM's cycles (the untimed ones predicted) and the description of the
    /// sample (its `scale` multiplies `rest`, and the per-pc rows of the other timed SMs).
    pub fn extrapolate(&self, first: &SmStats, rest: &SmStats, sm_cycles: &[u64]) -> (SmStats, Vec<u64>, Sample) {
        let mut timed = first.clone();
        timed.add(rest);
        let timed = &timed;
        let used = self.work.iter().filter(|&&w| w > 0).count() as u32;
        let timed_sms: Vec<u32> =
            (0..sm_cycles.len()).filter(|&i| self.timed[i] && self.work[i] > 0).map(|i| i as u32).collect();
        let total: u64 = self.work.iter().sum();
        let w_timed: u64 = timed_sms.iter().map(|&i| self.work[i as usize]).sum();
        // SM 0 is always timed and counts once (its L2 is the coldest: weighting it like the
        // others would overcount misses and memory stalls); the other timed SMs stand for the
        // other SMs. With SM 0 alone timed, it stands for all.
        let w0 = self.work.first().copied().unwrap_or(0);
        let alone = w_timed <= w0;
        let scale = match (w_timed, alone) {
            (0, _) => 1.0,
            (_, true) => total as f64 / w_timed as f64,
            _ => (total - w0) as f64 / (w_timed - w0) as f64,
        };
        let exact = timed_sms.len() as u32 == used;
        // Predict the untimed SMs from the work, the span or the peak, whichever predicts the
        // timed SMs best (the earlier on ties).
        let mut best: Option<(Vec<u64>, f64, &'static str)> = None;
        for (proxy, name) in [(&self.work, "work"), (&self.span, "span"), (&self.peak, "peak")] {
            let (c, e) = self.predict(proxy, &timed_sms, sm_cycles);
            if best.as_ref().is_none_or(|b| e < b.1) {
                best = Some((c, e, name));
            }
        }
        let (mut cycles, sm_prediction_error, mut predictor) = best.expect("three proxies");
        if exact {
            (cycles, predictor) = (sm_cycles.to_vec(), "none");
        }
        let sm_prediction_error = if exact { 0.0 } else { sm_prediction_error };
        let estimate = cycles.iter().copied().max().unwrap_or(0) as f64;
        let worst_untimed = (0..cycles.len())
            .filter(|&i| !self.timed[i] && self.work[i] > 0)
            .map(|i| cycles[i] as f64 * (1.0 + sm_prediction_error))
            .fold(0.0, f64::max);
        let expected_error =
            if exact || estimate == 0.0 { 0.0 } else { (worst_untimed - estimate).max(0.0) / estimate };
        let mut s = if exact {
            timed.clone()
        } else {
            // (SM 0 as it is, or nothing when it stands for all; the SMs it scales)
            let (kept, scaled, kept_prepass) =
                if alone { (SmStats::new(0), timed, [0; 4]) } else { (first.clone(), rest, self.prepass_first) };
            let mut s = kept.clone();
            s.add(&scaled.scaled(scale));
            // all / timed pre-pass sectors of the kinds `kinds` (indices into `prepass`) of the
            // scaled SMs; the work's scale when their timed CTAs had none
            let by = |kinds: &[usize]| {
                let sum = |p: &[u64; 4]| kinds.iter().map(|&i| p[i] - kept_prepass[i]).sum::<u64>();
                match sum(&self.prepass_timed) {
                    0 => scale,
                    t => sum(&self.prepass) as f64 / t as f64,
                }
            };
            let times = |v: u64, f: f64| (v as f64 * f).round() as u64;
            s.l2_hits = kept.l2_hits + times(scaled.l2_hits, by(&[0, 2]));
            s.l2_misses = kept.l2_misses + times(scaled.l2_misses, by(&[1, 3]));
            s.dram_read_bytes = kept.dram_read_bytes + times(scaled.dram_read_bytes, by(&[1]));
            s.dram_write_bytes = kept.dram_write_bytes + times(scaled.dram_write_bytes, by(&[3]));
            s
        };
        s.warp_instructions = if exact { timed.warp_instructions } else { total };
        s.ctas = self.ctas;
        s.warps = self.warps;
        let sample = Sample {
            timed_sms,
            sms_used: used,
            ctas_timed: self.ctas_timed,
            ctas: self.ctas,
            warp_instructions_timed: w_timed,
            warp_instructions_sm0: w0,
            warp_instructions: total,
            scale,
            cycles_timed: sm_cycles.iter().copied().max().unwrap_or(0),
            sm_prediction_error,
            predictor,
            expected_error,
            exact,
        };
        (s, cycles, sample)
    }
}

impl Sampler {
    /// Every SM's cycles (the timed SMs' as they are, the untimed ones predicted from `proxy`
    /// per SM, as `proxy x` the median cycles per unit of proxy of the timed SMs that ran as
    /// many CTAs, else of all), and the largest relative error of that prediction over the
    /// timed SMs, each predicted from the others (infinite with fewer than 2).
    fn predict(&self, proxy: &[u64], timed_sms: &[u32], sm_cycles: &[u64]) -> (Vec<u64>, f64) {
        let rates: Vec<(u64, f64)> = timed_sms
            .iter()
            .map(|&i| (self.ctas_on[i as usize], sm_cycles[i as usize] as f64 / proxy[i as usize].max(1) as f64))
            .collect();
        let mut cycles = sm_cycles.to_vec();
        for (i, c) in cycles.iter_mut().enumerate() {
            if !self.timed[i] && self.work[i] > 0 {
                *c = (proxy[i] as f64 * peer_rate(&rates, self.ctas_on[i], None)).round() as u64;
            }
        }
        let error = match rates.len() {
            0 | 1 => f64::INFINITY,
            _ => (0..rates.len())
                .map(|k| (peer_rate(&rates, rates[k].0, Some(k)) - rates[k].1).abs() / rates[k].1)
                .fold(0.0, f64::max),
        };
        (cycles, error)
    }
}

/// The cycles per warp-instruction predicted for an SM that ran `ctas` CTAs from the timed SMs'
/// `rates` ((CTAs, rate) each; `skip`: one to leave out): the median of those that ran as many
/// CTAs (CTAs on one SM overlap, so an SM with one CTA more is not slower in proportion to its
/// work), else of all.
fn peer_rate(rates: &[(u64, f64)], ctas: u64, skip: Option<usize>) -> f64 {
    let pick = |same: bool| -> Vec<f64> {
        let others = rates.iter().enumerate().filter(|&(i, _)| Some(i) != skip);
        others.filter(|(_, r)| !same || r.0 == ctas).map(|(_, r)| r.1).collect()
    };
    let (same, all) = (pick(true), pick(false));
    median(if same.is_empty() { &all } else { &same })
}

/// The median of `v` (the mean of the middle two for an even count; 0 when empty).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_sms_are_one_per_equal_part_jittered_and_include_sm_0() {
        for (sms, used, want) in [
            (8, 80, vec![0, 16, 22, 38, 44, 50, 67, 73]),
            (8, 64, vec![0, 12, 17, 30, 35, 40, 53, 58]),
            (4, 6, vec![0, 2, 3, 5]),
            (8, 5, vec![0, 1, 2, 3, 4]),
            (1, 80, vec![0]),
            (0, 80, vec![0, 12, 17, 30, 35, 40, 53, 58, 71, 76]),
            (0, 4, vec![0, 3]),
            (0, 1, vec![0]),
        ] {
            let mut s = Sampler::new(sms);
            s.resolve(80, used, used as u64);
            let got: Vec<usize> = (0..80).filter(|&i| s.timed[i]).collect();
            assert_eq!(got, want, "{sms} of {used}");
        }
    }

    #[test]
    fn both_cta_counts_are_timed_when_the_ctas_do_not_divide_evenly() {
        // (sample, used SMs, CTAs, timed): SMs 0..CTAs % used run one CTA more
        for (sms, used, ctas, want) in [
            (0, 80, 100, vec![0, 10, 14, 20, 33, 39, 53, 58, 63, 77]),
            (4, 4, 6, vec![0, 1, 2, 3]),
            (2, 8, 9, vec![0, 1]),
            (2, 8, 15, vec![0, 7]),
            (3, 8, 12, vec![0, 3, 4]),
            (1, 8, 12, vec![0]),
            (0, 80, 160, vec![0, 12, 17, 30, 35, 40, 53, 58, 71, 76]),
        ] {
            let mut s = Sampler::new(sms);
            s.resolve(80, used, ctas);
            let got: Vec<usize> = (0..80).filter(|&i| s.timed[i]).collect();
            assert_eq!(got, want, "{sms} of {used}, {ctas} CTAs");
        }
    }

    #[test]
    fn untimed_sms_are_predicted_from_their_work_and_counters_scaled() {
        // 4 SMs used, SMs 0 and 3 timed at 10 cycles per warp-instruction (100 / 10, 120 / 12);
        // SM 2 has three times SM 1's work.
        let mut s = Sampler::new(2);
        s.resolve(4, 4, 4);
        assert_eq!(s.timed, vec![true, false, false, true]);
        for (sm, work) in [(0, 10), (1, 10), (2, 30), (3, 12)] {
            assert_eq!(s.place(sm, 4, (work, work), [sm as u64, (sm != 2) as u64, 0, 0]), sm == 0 || sm == 3);
        }
        let mut first = SmStats::new(1);
        first.warp_instructions = 10;
        first.issue_cycles = 30;
        first.l2_hits = 1;
        first.l2_misses = 3;
        first.max_resident = 2;
        let mut rest = SmStats::new(1); // SM 3
        rest.warp_instructions = 12;
        rest.issue_cycles = 14;
        rest.l2_hits = 2; // pre-pass hits of SMs 1..4: 6 of all, 3 timed
        rest.l2_misses = 2; // pre-pass misses of SMs 1..4: 2 of all, 1 timed
        rest.max_resident = 1;
        let (scaled, cycles, sample) = s.extrapolate(&first, &rest, &[100, 0, 0, 120]);
        assert_eq!(cycles, vec![100, 100, 300, 120]);
        // SMs 1..4 did 52 warp-instructions, SM 3 of them 12
        assert_eq!(sample.scale, 52.0 / 12.0);
        assert_eq!((scaled.warp_instructions, scaled.issue_cycles), (62, 30 + 61));
        assert_eq!((scaled.l2_hits, scaled.l2_misses), (1 + 4, 3 + 4));
        assert_eq!((scaled.ctas, scaled.warps, scaled.max_resident), (4, 16, 2));
        assert_eq!(sample.timed_sms, vec![0, 3]);
        assert_eq!((sample.ctas_timed, sample.cycles_timed), (2, 120));
        assert_eq!((sample.sm_prediction_error, sample.expected_error), (0.0, 0.0));
        assert!(!sample.exact);
        // rates 10 and 12: each predicted from the other is off by 2/10 and 2/12; SM 2 (work
        // 30, predicted 330 at the median 11) may take 1.2 x 330 = 396
        let (_, cycles, sample) = s.extrapolate(&first, &rest, &[100, 0, 0, 144]);
        assert_eq!(cycles, vec![100, 110, 330, 144]);
        assert!((sample.sm_prediction_error - 0.2).abs() < 1e-12, "{}", sample.sm_prediction_error);
        assert!((sample.expected_error - 66.0 / 330.0).abs() < 1e-12, "{}", sample.expected_error);
    }

    #[test]
    fn the_span_predicts_when_it_fits_the_timed_sms_better() {
        // One CTA per SM. SMs 0 and 3 take 100 cycles with work 40 and 20 but the same longest
        // warp (10): latency-bound, the span predicts them exactly, the work does not.
        let mut s = Sampler::new(2);
        s.resolve(4, 4, 4);
        for (sm, work, longest) in [(0, 40, 10), (1, 40, 10), (2, 40, 20), (3, 20, 10)] {
            s.place(sm, 4, (work, longest), [0; 4]);
        }
        let (_, cycles, sample) = s.extrapolate(&SmStats::new(1), &SmStats::new(1), &[100, 0, 0, 100]);
        assert_eq!(sample.predictor, "span");
        assert_eq!(cycles, vec![100, 100, 200, 100]);
        assert_eq!((sample.sm_prediction_error, sample.expected_error), (0.0, 0.0));
    }

    #[test]
    fn the_peak_predicts_when_resident_ctas_overlap() {
        // SMs 0 and 3 timed. Two CTAs on SMs 0..2, one on SM 3; every CTA latency-bound (its
        // longest warp sets its time) and the two of an SM resident together, so an SM takes as
        // long as its longest CTA: 10 cycles per warp-instruction of it. The work and the span
        // add the two CTAs up and mispredict SM 3 from SM 0; the peak does not.
        let mut s = Sampler::new(2);
        s.resolve(4, 4, 7);
        assert_eq!(s.timed, vec![true, false, false, true]);
        for (sm, longest) in [(0, 10), (0, 4), (1, 10), (1, 10), (2, 30), (2, 5), (3, 12)] {
            s.place(sm, 4, (4 * longest, longest), [0; 4]);
        }
        let (_, cycles, sample) = s.extrapolate(&SmStats::new(1), &SmStats::new(1), &[100, 0, 0, 120]);
        assert_eq!(sample.predictor, "peak");
        assert_eq!(cycles, vec![100, 100, 300, 120]);
        assert_eq!((sample.sm_prediction_error, sample.expected_error), (0.0, 0.0));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
