//! Alignment: where the printed page lies in an upright scan, as a map from layout
//! millimetres to pixels.
//!
//! 1. The four registration squares ([`squares`]) give a homography: exact for a flat sheet
//!    seen at any turn, scale, shift or perspective (a keystoned feeder, a photo), and with
//!    three squares an affine map.
//! 2. The homography has no spare point to check it by, so the form's printed table lines do
//!    ([`rulings`]): they must be found where it puts them. Where they lie smoothly off (a
//!    curled or stretched sheet), their offsets become a local correction ([`Warp`]) rather
//!    than a reason to reject; where they are missing or scattered, a square was misread and
//!    each three squares are tried alone; where nothing fits, the page is rejected with the
//!    evidence. The page code's centre is checked the same way.
//! 3. Every tick box is then re-centred on its own outline (see `marks`): the last, per-box
//!    refinement.
//!
//! Phone photos (strong perspective, lens curvature, uneven light) fit the same shape: a
//! homography from the squares, corrected locally by the lines.

pub mod rulings;
pub mod squares;
#[cfg(test)]
pub mod testpage;

use super::transform::{fit_affine, fit_homography, Transform, Warp};
use crate::layout::PageLayout;
use crate::units::{PointMm, SizeMm};
use image::GrayImage;

/// Largest RMS of the printed lines' offsets that the local correction leaves unexplained
/// (each probe against what its neighbours say). A flat or smoothly curled page stays under
/// 0.2 mm; past 0.6 mm the paper is crumpled on the scale of a table cell, and a box could be
/// measured partly on its frame.
pub const UNEXPLAINED_LIMIT_MM: f64 = 0.6;
/// Largest share of found lines that may disagree with their neighbours (pen strokes along a
/// rule, a fold across it): beyond it the lines do not describe a page.
pub const DISAGREEING_LIMIT: f64 = 0.25;
/// Least share of the probes whose line must be found: a right fit finds nearly all (pen over
/// a rule or a fold hides a few); a wrong one finds few or none.
pub const MIN_FOUND_SHARE: f64 = 0.5;
/// Fewer probes than this (a form with hardly any long lines) and the lines cannot check the
/// fit: the code's centre alone does.
pub const MIN_PROBES: usize = 6;
/// Largest distance (mm) between where the fit puts the code's centre and where it was found:
/// the decoder's corners are good to about half a 0.7 mm module; a wrong square moves the
/// code's predicted place by millimetres.
pub const CODE_CHECK_MM: f64 = 1.5;
/// Farther than this (mm) the code's centre rejects the page whatever the lines say: a code
/// estimated this far off is no blur, and a fit that puts it there is suspect everywhere.
pub const CODE_LIMIT_MM: f64 = 4.0;
/// Below this offset (90th percentile, mm) the page is flat enough to read on its projective
/// map alone: re-centring every box on its outline absorbs the rest.
pub const WARP_FROM_MM: f64 = 0.3;

/// Largest departure of the measured scale from the expected one. Beyond 10 % the sheet was
/// scanned (or printed) at the wrong size, and the tick boxes no longer match the form.
pub const SCALE_TOLERANCE: f64 = 0.10;

/// The corners in the layout's order of `PageLayout::marks`.
pub const CORNERS: [&str; 4] = ["top-left", "top-right", "bottom-right", "bottom-left"];

/// Why a page could not be aligned, with the evidence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlignError {
    #[error("only {found} of the 4 black corner squares were found (missing: {}): corner torn off, folded, covered or outside the scan", missing.join(", "))]
    MarksMissing {
        found: usize,
        missing: Vec<&'static str>,
    },
    #[error("the printed table lines lie {unexplained_mm:.2} mm (RMS) off any smooth fit of the page, {disagreeing:.0} % of them out of line with their neighbours (limits {limit_mm:.1} mm, {:.0} %): the sheet is crumpled, torn or folded over", DISAGREEING_LIMIT * 100.0)]
    Distorted {
        unexplained_mm: f64,
        disagreeing: f64,
        limit_mm: f64,
    },
    #[error("the printed table lines were found at only {found} of {probes} places where the corner squares put them: a corner square is misread, covered or the sheet is badly distorted")]
    LinesMissing { found: usize, probes: usize },
    #[error("the page code is {off_mm:.1} mm from where the corner squares put it (limit {:.1} mm): a corner square is misread or the sheet is distorted", CODE_CHECK_MM)]
    CodeMisplaced { off_mm: f64 },
    #[error("the page appears at {:.0} % × {:.0} % of its printed size (accepted {:.0}–{:.0} %): scanned or printed at the wrong size", scale_x * 100.0, scale_y * 100.0, (1.0 - SCALE_TOLERANCE) * 100.0, (1.0 + SCALE_TOLERANCE) * 100.0)]
    WrongScale { scale_x: f64, scale_y: f64 },
    #[error("the corner squares found do not define a page (they lie on a line)")]
    Degenerate,
}

/// Where a page was found in the image.
#[derive(Debug, Clone)]
pub struct Alignment {
    pub transform: Transform,
    /// How far the printed lines lie from where the final transform puts them (RMS, mm; each
    /// line against the correction its neighbours give): 0.05–0.2 on a flat page. Where the
    /// page has too few long lines, the code centre's misfit.
    pub residual_mm: f64,
    /// The corner square left out because the page read better without it (misread: ink or
    /// a shadow on it), in [`CORNERS`] order.
    pub left_out: Option<usize>,
    /// Centres of the squares found, pixels, in `CORNERS` order.
    pub marks: [Option<(f64, f64)>; 4],
}

/// What one fit of the page measured against the lines and the code.
#[derive(Clone)]
struct Verdict {
    warp: Warp,
    residual_mm: f64,
    /// How far the lines lie from this fit before any correction (90th percentile, mm).
    offset_mm: f64,
    /// The fit corrected page-wide by the lines (see [`Transform::corrected`]), when only that
    /// brought them within the limits: the transform the warp applies to.
    corrected: Option<Transform>,
}

/// Find the page in an upright image.
///
/// `scale` is the expected pixels per millimetre (from the dpi or the image size); the page is
/// expected about centred in the image. `code_centre` is where the page code's centre was found
/// (a check point independent of the squares); `contrast` the page's paper-to-ink gray level
/// difference.
///
/// # Errors
/// [`AlignError`] when fewer than 3 squares are found, the scale is off by more than
/// [`SCALE_TOLERANCE`], or no fit of the squares puts the printed lines and the code where the
/// scan shows them.
pub fn align(
    img: &GrayImage,
    page: &PageLayout,
    size: SizeMm,
    scale: f64,
    code_centre: Option<(f64, f64)>,
    contrast: f64,
) -> Result<Alignment, AlignError> {
    let found = squares::find(img, page, size, scale, code_centre);
    let pairs = squares::located(page, &found);
    if pairs.len() < 3 {
        let missing = CORNERS
            .iter()
            .zip(found)
            .filter(|(_, f)| f.is_none())
            .map(|(c, _)| *c)
            .collect();
        return Err(AlignError::MarksMissing {
            found: pairs.len(),
            missing,
        });
    }
    let affine = fit_affine(&pairs).ok_or(AlignError::Degenerate)?;
    let (sx, sy) = (affine[0].hypot(affine[3]), affine[1].hypot(affine[4]));
    if (sx / scale - 1.0).abs() > SCALE_TOLERANCE || (sy / scale - 1.0).abs() > SCALE_TOLERANCE {
        return Err(AlignError::WrongScale {
            scale_x: sx / scale,
            scale_y: sy / scale,
        });
    }
    let probes = rulings::probes(page);
    let fit = |pairs: &[(PointMm, (f64, f64))]| -> Option<Transform> {
        let m = if pairs.len() == 4 {
            fit_homography(pairs)?
        } else {
            let a = fit_affine(pairs)?;
            [a[0], a[1], a[2], a[3], a[4], a[5], 0.0, 0.0, 1.0]
        };
        Some(Transform::from_matrix(m, img.width(), img.height()))
    };
    let check = |t: &Transform| verify(img, page, t, &probes, code_centre, contrast);
    // A fit the lines find off by a smooth, page-wide error (a square misjudged, a keystone
    // that three squares fit only affinely) is corrected by the projective map the lines'
    // offsets describe, kept when the lines then lie closer; only what that leaves is
    // corrected locally.
    let refine = |t: Transform, v: Verdict| -> (Transform, Verdict) {
        if let Some(t) = v.corrected.clone() {
            return (t, v);
        }
        let better = t.corrected(&v.warp).and_then(|t2| {
            let v2 = check(&t2).ok()?;
            (v2.offset_mm < v.offset_mm).then_some((t2, v2))
        });
        better.unwrap_or((t, v))
    };
    let done = |t: Transform, v: Verdict, left_out: Option<usize>| {
        let (t, v) = refine(t, v);
        done(t, v, found, left_out)
    };
    let t = fit(&pairs).ok_or(AlignError::Degenerate)?;
    let first = check(&t);
    if first.as_ref().is_ok_and(|v| v.warp.is_empty()) || pairs.len() < 4 {
        return first.map(|v| done(t, v, None));
    }
    // A misread square (ink on it, a shadow, a punched hole) bends every fit through it: with
    // four, each three alone are tried too, and the fit the printed lines agree with best
    // (the least local correction) is kept.
    let offset = |v: &Verdict| v.offset_mm;
    let best = (0..4)
        .filter_map(|k| {
            let three: Vec<_> = (0..4).filter(|&i| i != k).map(|i| pairs[i]).collect();
            let t = fit(&three)?;
            check(&t).ok().map(|v| (Some(k), t, v))
        })
        .chain(first.as_ref().ok().map(|v| (None, t.clone(), v.clone())))
        .min_by(|a, b| offset(&a.2).total_cmp(&offset(&b.2)));
    match (best, first) {
        (Some((k, t, v)), _) => Ok(done(t, v, k)),
        (None, Err(e)) => Err(e),
        (None, Ok(v)) => Ok(done(t, v, None)),
    }
}

fn done(
    t: Transform,
    v: Verdict,
    marks: [Option<(f64, f64)>; 4],
    left_out: Option<usize>,
) -> Alignment {
    Alignment {
        transform: t.with_warp(v.warp),
        residual_mm: v.residual_mm,
        marks,
        left_out,
    }
}

/// Check one fit against the code's centre and the printed lines; the local correction the
/// lines call for.
fn verify(
    img: &GrayImage,
    page: &PageLayout,
    t: &Transform,
    probes: &[rulings::Probe],
    code_centre: Option<(f64, f64)>,
    contrast: f64,
) -> Result<Verdict, AlignError> {
    verify_once(img, page, t, probes, code_centre, contrast, true)
}

/// [`verify`]; `rescue`: whether lines too far off for a local correction may first be
/// measured again through the page-wide one they call for (once).
fn verify_once(
    img: &GrayImage,
    page: &PageLayout,
    t: &Transform,
    probes: &[rulings::Probe],
    code_centre: Option<(f64, f64)>,
    contrast: f64,
    rescue: bool,
) -> Result<Verdict, AlignError> {
    let code_off_mm = code_centre.map(|c| {
        let p = t.map(page.code.center());
        (p.0 - c.0).hypot(p.1 - c.1) / t.px_per_mm(page.code.center())
    });
    // The code's centre is one point, estimated from a small, often blurred code; the printed
    // lines are dozens of points measured to a fraction of a millimetre. Where the lines can
    // check the fit they decide, and a code off by more than they allow only rejects a page
    // with no lines to check.
    let code_far = code_off_mm.filter(|&d| d > CODE_CHECK_MM);
    if let Some(off_mm) = code_far.filter(|&d| probes.len() < MIN_PROBES || d > CODE_LIMIT_MM) {
        return Err(AlignError::CodeMisplaced { off_mm });
    }
    if probes.len() < MIN_PROBES {
        return Ok(Verdict {
            warp: Warp::default(),
            residual_mm: code_off_mm.unwrap_or(0.0),
            offset_mm: code_off_mm.unwrap_or(0.0),
            corrected: None,
        });
    }
    let c = rulings::measure(img, t, probes, contrast);
    if c.found_share() < MIN_FOUND_SHARE {
        return Err(AlignError::LinesMissing {
            found: c.found.len(),
            probes: c.probes,
        });
    }
    let (warp, unexplained_mm, disagreeing) = c.warp();
    if unexplained_mm > UNEXPLAINED_LIMIT_MM || disagreeing > DISAGREEING_LIMIT {
        // Lines off by more than a local correction explains may be off by a page-wide one
        // (a misjudged square): measured again through the fit the lines call for, the page
        // is rejected only if they still are.
        let again = rescue.then(|| t.corrected(&warp)).flatten().and_then(|t2| {
            let v = verify_once(img, page, &t2, probes, code_centre, contrast, false).ok()?;
            Some(Verdict {
                corrected: Some(t2),
                ..v
            })
        });
        return again.ok_or(AlignError::Distorted {
            unexplained_mm,
            disagreeing: disagreeing * 100.0,
            limit_mm: UNEXPLAINED_LIMIT_MM,
        });
    }
    let offset_mm = c.offset_quantile(0.9);
    let flat = offset_mm <= WARP_FROM_MM;
    Ok(Verdict {
        offset_mm,
        warp: if flat { Warp::default() } else { warp },
        residual_mm: if flat {
            (c.found.iter().map(|(_, d)| d * d).sum::<f64>() / c.found.len().max(1) as f64).sqrt()
        } else {
            unexplained_mm
        },
        corrected: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::MARK_SIZE;
    use crate::units::{RectMm, A4};
    use testpage::{bare_page, scan_of};

    #[test]
    fn squares_cut_by_any_image_edge_still_align_the_page() {
        let page = bare_page();
        // Each shift pushes one pair of squares past an image edge (a fifth to a half of each
        // square is lost); the turn tilts the cut across the square.
        for (deg, shift) in [
            (0.6, (0.0, -12.5)),
            (-0.6, (0.0, 12.5)),
            (0.4, (-12.0, 0.0)),
            (-0.4, (12.0, 0.0)),
        ] {
            let sc = scan_of(deg, shift);
            let img = sc.render(&page, &[]);
            let code = sc.map(page.code.center());
            let scale = 200.0 / 25.4;
            // Without the cut squares this page has two squares only.
            assert!(
                page.marks
                    .iter()
                    .filter(|r| {
                        let (x, y) = sc.map(r.center());
                        let half = MARK_SIZE / 2.0 * sc.k;
                        x - half < 0.0
                            || y - half < 0.0
                            || x + half > f64::from(sc.width)
                            || y + half > f64::from(sc.height)
                    })
                    .count()
                    == 2
            );
            let al = align(&img, &page, A4, scale, Some(code), 190.0)
                .unwrap_or_else(|e| panic!("{deg}° {shift:?}: {e}"));
            assert!(al.marks.iter().all(Option::is_some), "{deg}° {shift:?}");
            // Every point of the page lands within 0.1 mm of where it was printed.
            for p in [(11.0, 11.0), (199.0, 11.0), (105.0, 148.0), (30.0, 270.0)] {
                let p = PointMm::new(p.0, p.1);
                let (got, want) = (al.transform.map(p), sc.map(p));
                let err = (got.0 - want.0).hypot(got.1 - want.1) / sc.k;
                assert!(err < 0.1, "{deg}° {shift:?} at {p:?}: {err:.3} mm off");
            }
        }
    }

    #[test]
    fn cut_squares_are_not_used_without_the_codes_centre_to_check_them() {
        let page = bare_page();
        let sc = scan_of(0.6, (0.0, -12.5));
        let img = sc.render(&page, &[]);
        let e = align(&img, &page, A4, 200.0 / 25.4, None, 190.0).unwrap_err();
        assert!(
            matches!(e, AlignError::MarksMissing { found: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn a_dark_band_along_the_edge_is_not_taken_for_a_cut_square() {
        let page = bare_page();
        let sc = scan_of(0.6, (0.0, -12.5));
        // A scanner's dark border merged with both cut squares.
        let band = RectMm::new(-20.0, -20.0, 250.0, 32.0);
        let img = sc.render(&page, &[band]);
        let e = align(
            &img,
            &page,
            A4,
            200.0 / 25.4,
            Some(sc.map(page.code.center())),
            190.0,
        )
        .unwrap_err();
        assert!(
            matches!(e, AlignError::MarksMissing { found: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn a_cut_square_that_disagrees_with_the_code_fails_the_check() {
        let page = bare_page();
        let sc = scan_of(0.6, (0.0, -12.5));
        let img = sc.render(&page, &[]);
        // The code's centre 4 mm from where the squares put it: the page is not flat.
        let (x, y) = sc.map(page.code.center());
        let e = align(
            &img,
            &page,
            A4,
            200.0 / 25.4,
            Some((x + 4.0 * sc.k, y)),
            190.0,
        )
        .unwrap_err();
        assert!(matches!(e, AlignError::CodeMisplaced { .. }), "{e}");
    }

    #[test]
    fn a_keystoned_page_is_read_through_its_homography() {
        let page = testpage::ruled_page();
        for (pull, deg) in [(2.5, 0.0), (-2.5, 3.0), (1.5, -4.5)] {
            let truth = testpage::keystoned(pull, deg);
            let img = testpage::render_through(&truth, &page, 1654, 2339, &[], &[]);
            let code = truth.map(page.code.center());
            let al = align(&img, &page, A4, 200.0 / 25.4, Some(code), 190.0)
                .unwrap_or_else(|e| panic!("{pull} mm {deg}°: {e}"));
            assert_eq!(al.left_out, None);
            assert!(al.residual_mm < 0.15, "{pull} mm: {}", al.residual_mm);
            for p in [(30.0, 45.0), (180.0, 140.0), (105.0, 148.0), (30.0, 270.0)] {
                let p = PointMm::new(p.0, p.1);
                let (got, want) = (al.transform.map(p), truth.map(p));
                let err = (got.0 - want.0).hypot(got.1 - want.1) / truth.px_per_mm(p);
                assert!(err < 0.1, "{pull} mm {deg}° at {p:?}: {err:.3} mm off");
            }
        }
    }

    #[test]
    fn a_misread_square_is_left_out_when_the_lines_disagree_with_it() {
        let page = testpage::ruled_page();
        let truth = testpage::keystoned(1.0, 1.0);
        // The top-left square is hidden and a square-shaped blot sits 2 mm lower and to the
        // right of it: the four "squares" bend the fit by 2 mm at that corner.
        let real = page.marks[0];
        let blot = RectMm::new(real.x + 2.0, real.y + 2.0, real.w, real.h);
        let img = testpage::render_through(&truth, &page, 1654, 2339, &[blot], &[real]);
        let code = truth.map(page.code.center());
        let al = align(&img, &page, A4, 200.0 / 25.4, Some(code), 190.0).unwrap();
        assert_eq!(al.left_out, Some(0));
        let p = PointMm::new(40.0, 50.0);
        let (got, want) = (al.transform.map(p), truth.map(p));
        assert!((got.0 - want.0).hypot(got.1 - want.1) / truth.px_per_mm(p) < 0.15);
    }
}
