//! The matchers' helpers against Go's.

use super::*;

#[test]
fn quote_meta_is_gos() {
    assert_eq!(
        quote_meta(r"a-b.c*d+e?f(g)h|i[j]k{l}m^n$o\p#q"),
        r"a-b\.c\*d\+e\?f\(g\)h\|i\[j\]k\{l\}m\^n\$o\\p#q"
    );
}
