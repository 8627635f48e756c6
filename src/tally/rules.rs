//! The seed's 原则标准 applied to the counts: who is an excellent member per branch.
//!
//! A candidate is eligible when their 附2 satisfaction passes the form's ratio (90 % inclusive),
//! every window post linked to them (`Post.candidate`) passes its 附3 ratio too (the seed:
//! window-post candidates must also pass the 群众满意度测评), they have at least one valid
//! recommend vote, and no veto names them. Eligible candidates fill the quota by recommend
//! votes; equal votes across the quota line are a tie the committee breaks, never the program.

use super::{
    AppliedVeto, BranchDecision, CandidateResult, FormTally, Outcome, Rate, Tie, WindowResult,
};
use crate::campaign::Campaign;
use crate::form::{FormDef, SubjectKind};

pub(super) fn decide(
    tallies: &[FormTally],
    forms: &[FormDef],
    c: &Campaign,
    vetoes: &[AppliedVeto],
) -> Vec<BranchDecision> {
    let windows: Vec<&FormTally> = tallies
        .iter()
        .filter(|t| t.subject_kind == SubjectKind::Posts)
        .collect();
    let mut out = Vec::new();
    for (form, t) in forms.iter().zip(tallies) {
        let Some(rule) = &form.rules.recommend else {
            continue;
        };
        for b in &c.branches {
            if b.candidates.is_empty() {
                continue;
            }
            let quota = rule.quota.of(u64::from(b.members), rule.quota_rounding);
            let mut cands: Vec<CandidateResult> =
                b.candidates
                    .iter()
                    .map(|k| {
                        let st = t.subjects.iter().find(|s| s.id == k.id);
                        let votes = st
                            .and_then(|s| s.items.iter().find(|i| i.item == rule.item))
                            .map_or(0, |i| i.counts.iter().map(|c| c.count).sum());
                        let rate = st.map_or(Rate::new(0, 0, &t.pass_at_least), |s| s.rate);
                        let window: Vec<WindowResult> =
                            c.posts
                                .iter()
                                .filter(|p| p.candidate.as_deref() == Some(k.id.as_str()))
                                .flat_map(|p| {
                                    windows.iter().filter_map(move |w| {
                                        w.subjects.iter().find(|s| s.id == p.id).map(|s| {
                                            WindowResult {
                                                form: w.form.clone(),
                                                post: p.id.clone(),
                                                title: p.title.clone(),
                                                rate: s.rate,
                                            }
                                        })
                                    })
                                })
                                .collect();
                        let veto = vetoes.iter().find(|v| v.person == k.id).cloned();
                        let mut ineligible = Vec::new();
                        if votes == 0 {
                            ineligible.push("无有效推荐票".to_string());
                        }
                        if rate.graded == 0 {
                            ineligible.push("无有效满意度评价".to_string());
                        } else if !rate.passes {
                            ineligible.push(format!(
                                "满意率 {} 未达 {}",
                                rate.percent(),
                                t.pass_at_least
                            ));
                        }
                        for w in window.iter().filter(|w| w.rate.graded == 0) {
                            ineligible.push(format!("窗口岗位「{}」无群众满意度测评", w.title));
                        }
                        for w in window
                            .iter()
                            .filter(|w| w.rate.graded > 0 && !w.rate.passes)
                        {
                            ineligible.push(format!(
                                "窗口岗位「{}」群众满意率 {} 未达标",
                                w.title,
                                w.rate.percent()
                            ));
                        }
                        if let Some(v) = &veto {
                            ineligible.push(format!(
                                "一票否决:{}(核实:{},{})",
                                v.veto.reason, v.veto.verified_by, v.veto.date
                            ));
                        }
                        CandidateResult {
                            id: k.id.clone(),
                            name: k.name.clone(),
                            votes,
                            rank: 0,
                            rate,
                            window,
                            veto,
                            outcome: if ineligible.is_empty() {
                                Outcome::NotSelected
                            } else {
                                Outcome::Ineligible
                            },
                            ineligible,
                        }
                    })
                    .collect();
            // Stable sort: equal votes keep campaign order for display only; outcomes treat them equally.
            cands.sort_by_key(|k| std::cmp::Reverse(k.votes));
            for i in 0..cands.len() {
                cands[i].rank =
                    1 + cands.iter().filter(|x| x.votes > cands[i].votes).count() as u64;
            }
            let tie = fill_quota(&mut cands, quota);
            out.push(BranchDecision {
                form: form.id.clone(),
                branch: b.id.clone(),
                branch_name: b.name.clone(),
                members: b.members,
                quota_ratio: rule.quota,
                quota_rounding: rule.quota_rounding,
                quota,
                excellent: cands
                    .iter()
                    .filter(|k| k.outcome == Outcome::Excellent)
                    .map(|k| k.id.clone())
                    .collect(),
                candidates: cands,
                tie,
            });
        }
    }
    out
}

/// Give `quota` seats to eligible candidates (sorted by votes, descending). If the last seat's
/// vote count is shared by more candidates than seats left, none of them is chosen: a tie.
fn fill_quota(cands: &mut [CandidateResult], quota: u64) -> Option<Tie> {
    let eligible: Vec<usize> = (0..cands.len())
        .filter(|&i| cands[i].outcome != Outcome::Ineligible)
        .collect();
    let seats = usize::try_from(quota).unwrap_or(usize::MAX);
    if eligible.len() <= seats {
        for &i in &eligible {
            cands[i].outcome = Outcome::Excellent;
        }
        return None;
    }
    if seats == 0 {
        return None;
    }
    let line = cands[eligible[seats - 1]].votes;
    let above: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|&i| cands[i].votes > line)
        .collect();
    let at: Vec<usize> = eligible
        .iter()
        .copied()
        .filter(|&i| cands[i].votes == line)
        .collect();
    for &i in &above {
        cands[i].outcome = Outcome::Excellent;
    }
    let left = seats - above.len();
    if at.len() <= left {
        for &i in &at {
            cands[i].outcome = Outcome::Excellent;
        }
        return None;
    }
    for &i in &at {
        cands[i].outcome = Outcome::Tie;
    }
    Some(Tie {
        votes: line,
        seats: left as u64,
        candidates: at.iter().map(|&i| cands[i].id.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Ratio;

    fn cand(id: &str, votes: u64, eligible: bool) -> CandidateResult {
        let r: Ratio = "9/10".parse().unwrap();
        CandidateResult {
            id: id.into(),
            name: id.into(),
            votes,
            rank: 0,
            rate: Rate::new(9, 10, &r),
            window: vec![],
            veto: None,
            ineligible: vec![],
            outcome: if eligible {
                Outcome::NotSelected
            } else {
                Outcome::Ineligible
            },
        }
    }

    fn outcomes(c: &[CandidateResult]) -> Vec<Outcome> {
        c.iter().map(|k| k.outcome).collect()
    }

    #[test]
    fn a_tie_across_the_quota_line_is_left_to_the_committee() {
        let mut c = vec![
            cand("a", 9, true),
            cand("b", 7, true),
            cand("c", 7, true),
            cand("d", 2, true),
        ];
        let tie = fill_quota(&mut c, 2).unwrap();
        assert_eq!(tie.candidates, ["b", "c"]);
        assert_eq!(tie.seats, 1);
        assert_eq!(
            outcomes(&c),
            [
                Outcome::Excellent,
                Outcome::Tie,
                Outcome::Tie,
                Outcome::NotSelected
            ]
        );
    }

    #[test]
    fn a_tie_that_fits_inside_the_quota_is_no_tie() {
        let mut c = vec![
            cand("a", 9, true),
            cand("b", 7, true),
            cand("c", 7, true),
            cand("d", 2, true),
        ];
        assert!(fill_quota(&mut c, 3).is_none());
        assert_eq!(
            outcomes(&c),
            [
                Outcome::Excellent,
                Outcome::Excellent,
                Outcome::Excellent,
                Outcome::NotSelected
            ]
        );
    }

    #[test]
    fn an_ineligible_top_candidate_gives_the_seat_to_the_next() {
        let mut c = vec![cand("a", 9, false), cand("b", 7, true), cand("c", 5, true)];
        assert!(fill_quota(&mut c, 1).is_none());
        assert_eq!(
            outcomes(&c),
            [
                Outcome::Ineligible,
                Outcome::Excellent,
                Outcome::NotSelected
            ]
        );
    }

    #[test]
    fn a_zero_quota_names_nobody() {
        let mut c = vec![cand("a", 9, true)];
        assert!(fill_quota(&mut c, 0).is_none());
        assert_eq!(outcomes(&c), [Outcome::NotSelected]);
    }
}
