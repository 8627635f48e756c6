//! A plane homography (projective map) through four point pairs: the scanner's keystone warp,
//! and what tests use to say where a printed point must land on a keystoned scan.

/// `p ↦ (h0 x + h1 y + h2, h3 x + h4 y + h5) / (h6 x + h7 y + h8)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The map taking each `from[i]` to `to[i]`; None when three of the points are (nearly) on
    /// one line, where no single homography exists.
    #[must_use]
    pub fn through(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Option<Self> {
        // Two equations per pair in the eight unknowns h0…h7 (h8 = 1).
        let mut m = [[0.0f64; 9]; 8];
        for (i, (&(x, y), &(u, v))) in from.iter().zip(&to).enumerate() {
            m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        let h = solve8(m)?;
        Some(Self([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0]))
    }

    /// Where `(x, y)` goes; None at the line sent to infinity.
    #[must_use]
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let h = &self.0;
        let w = h[6] * x + h[7] * y + h[8];
        // Far off any page: the scanner's maps keep w near 1.
        if w.abs() < 1e-12 {
            return None;
        }
        Some((
            (h[0] * x + h[1] * y + h[2]) / w,
            (h[3] * x + h[4] * y + h[5]) / w,
        ))
    }
}

/// Gaussian elimination with partial pivoting on an 8 × 8 system (augmented column 8).
fn solve8(mut m: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        // Relative to the page-sized coordinates the rows carry (up to ~10⁴ px).
        if m[pivot][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        let p = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            let f = row[col] / p[col];
            if r != col && f != 0.0 {
                for (v, pv) in row.iter_mut().zip(&p).skip(col) {
                    *v -= f * pv;
                }
            }
        }
    }
    let mut x = [0.0; 8];
    for (i, v) in x.iter_mut().enumerate() {
        *v = m[i][8] / m[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_pairs_are_met_exactly_and_a_rectangle_stays_affine() {
        let from = [(0.0, 0.0), (2000.0, 0.0), (2000.0, 3000.0), (0.0, 3000.0)];
        let to = [
            (12.0, 7.0),
            (2010.0, -3.0),
            (2030.0, 3005.0),
            (-4.0, 2990.0),
        ];
        let h = Homography::through(from, to).expect("a homography");
        for (f, t) in from.iter().zip(&to) {
            let (u, v) = h.apply(f.0, f.1).expect("finite");
            assert!((u - t.0).abs() < 1e-6 && (v - t.1).abs() < 1e-6, "{u} {v}");
        }
        // Its inverse is the map the other way round.
        let back = Homography::through(to, from).expect("an inverse");
        let (x, y) = h
            .apply(700.0, 1900.0)
            .and_then(|(u, v)| back.apply(u, v))
            .expect("finite");
        assert!((x - 700.0).abs() < 1e-6 && (y - 1900.0).abs() < 1e-6);
        // A pure shift has no perspective part.
        let moved = from.map(|p| (p.0 + 5.0, p.1 - 2.0));
        let s = Homography::through(from, moved).expect("a shift");
        assert!(s.0[6].abs() < 1e-12 && s.0[7].abs() < 1e-12);
    }

    #[test]
    fn three_points_on_a_line_have_no_homography() {
        let from = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, 1.0)];
        let to = [(0.0, 0.0), (1.0, 0.0), (2.0, 1.0), (0.0, 1.0)];
        assert!(Homography::through(from, to).is_none());
    }
}
