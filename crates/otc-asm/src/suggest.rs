//! "Did you mean" suggestions by edit distance.

/// Edit distance with adjacent transpositions (optimal string alignment), case-insensitive.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_uppercase().chars().collect();
    let b: Vec<char> = b.to_ascii_uppercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = (a[i - 1] != b[j - 1]) as usize;
            d[i][j] = (d[i - 1][j - 1] + cost).min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.is_empty() || word.len() > 64 {
        return None;
    }
    let (best, d) = candidates.iter().map(|c| (*c, distance(word, c))).min_by_key(|&(c, d)| (d, c.len()))?;
    let limit = (word.len().max(best.len()) / 3).max(1);
    (d <= limit).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const CASES: &[(&str, Option<&str>)] = &[
        ("IMDA", Some("IMAD")),
        ("IADD", Some("IADD3")),
        ("lop3", Some("LOP3")),
        ("HMMMA", Some("HMMA")),
        ("XYZZYQ", None),
    ];

    #[test]
    fn suggests_nearby_mnemonics() {
        let known = ["IMAD", "IADD3", "LOP3", "HMMA", "FFMA", "EXIT"];
        for (word, want) in CASES {
            assert_eq!(nearest(word, &known), *want, "{word}");
        }
    }
}
