//! Numbers as EventBridge compares them: JSON numbers between -5.0e9 and +5.0e9 inclusive, with
//! at most six digits after the decimal point ("Numeric matching" in
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>).
//! Inside that range a value is held exactly, in millionths, so `300`, `300.0` and `3e2` are equal
//! and no floating-point rounding decides a comparison.

use serde_json::Number;

/// EventBridge's numeric range, inclusive at both ends.
const LIMIT: i64 = 5_000_000_000;
/// Six decimals: values are compared in millionths.
const SCALE: i64 = 1_000_000;

/// The range and precision, for error messages.
pub(super) const RULE: &str =
    "between -5,000,000,000 and 5,000,000,000 with at most six digits after the decimal point";

/// The value in millionths, when EventBridge can compare it.
pub(super) fn comparable(n: &Number) -> Option<i64> {
    if let Some(int) = n.as_i64() {
        return (int.unsigned_abs() <= LIMIT.unsigned_abs()).then(|| int * SCALE);
    }
    if n.is_u64() {
        // Above `i64::MAX`, far outside the range.
        return None;
    }
    let float = n.as_f64()?;
    #[allow(clippy::cast_precision_loss)] // 5e9 and 1e6 are exact in f64
    let (limit, scale) = (LIMIT as f64, SCALE as f64);
    if !float.is_finite() || float.abs() > limit {
        return None;
    }
    let scaled = (float * scale).round();
    // The value has at most six decimals exactly when its millionths, scaled back, are the same
    // double (every such decimal rounds to one double, and below 2^53 the millionths are exact).
    #[allow(clippy::float_cmp)]
    let six_decimals = scaled / scale == float;
    #[allow(clippy::cast_possible_truncation)] // |scaled| <= 5e15 < 2^53
    six_decimals.then_some(scaled as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn c(v: serde_json::Value) -> Option<i64> {
        comparable(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn range_and_precision() {
        assert_eq!(c(json!(300)), Some(300_000_000));
        assert_eq!(c(json!(300.0)), c(json!(3.0e2)));
        assert_eq!(c(json!(0.1)), Some(100_000));
        assert_eq!(c(json!(-0.000001)), Some(-1));
        assert_eq!(c(json!(0.0000001)), None, "seven decimals");
        assert_eq!(c(json!(5_000_000_000_i64)), Some(5_000_000_000_000_000));
        assert_eq!(c(json!(-5.0e9)), Some(-5_000_000_000_000_000));
        assert_eq!(c(json!(5_000_000_001_i64)), None);
        assert_eq!(c(json!(5.000001e9)), None);
        assert_eq!(c(json!(4_999_999_999.999_999)), Some(4_999_999_999_999_999));
        assert_eq!(c(json!(u64::MAX)), None);
        assert_eq!(c(json!(i64::MIN)), None);
        assert_eq!(c(json!(1e300)), None);
    }
}
