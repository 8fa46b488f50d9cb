//! Reading Rhai syntax trees and guard text: member chains and token ends.

use super::*;

/// One segment of a member chain after its root variable.
pub(super) enum Seg<'e> {
    /// `.name`
    Prop(&'e str, Position),
    /// `[expr]`
    Key(&'e Expr),
    /// `.method(args)`
    Method(&'e FnCallExpr),
}

/// `root.seg.seg…`, when `expr` is a chain rooted at a variable.
pub(super) fn flatten(expr: &Expr) -> Option<(&str, Position, Vec<Seg<'_>>)> {
    match expr {
        Expr::Variable(var, _, pos) => Some((var.1.as_str(), *pos, Vec::new())),
        Expr::Dot(bin, ..) => {
            let (root, pos, mut segs) = flatten(&bin.lhs)?;
            rest(&bin.rhs, &mut segs)?;
            Some((root, pos, segs))
        }
        Expr::Index(bin, flags, _) => {
            let (root, pos, mut segs) = flatten(&bin.lhs)?;
            index_rest(&bin.rhs, *flags, &mut segs)?;
            Some((root, pos, segs))
        }
        _ => None,
    }
}

pub(super) fn rest<'e>(expr: &'e Expr, segs: &mut Vec<Seg<'e>>) -> Option<()> {
    match expr {
        Expr::Property(prop, pos) => segs.push(Seg::Prop(prop.2.as_str(), *pos)),
        Expr::MethodCall(call, _) => segs.push(Seg::Method(call)),
        Expr::Dot(bin, ..) => {
            rest(&bin.lhs, segs)?;
            rest(&bin.rhs, segs)?;
        }
        Expr::Index(bin, flags, _) => {
            rest(&bin.lhs, segs)?;
            index_rest(&bin.rhs, *flags, segs)?;
        }
        _ => return None,
    }
    Some(())
}

/// The right side of an index: the key alone (`BREAK`), or the key followed by the rest of
/// the chain.
pub(super) fn index_rest<'e>(
    rhs: &'e Expr,
    flags: ASTFlags,
    segs: &mut Vec<Seg<'e>>,
) -> Option<()> {
    if flags.contains(ASTFlags::BREAK) {
        segs.push(Seg::Key(rhs));
        return Some(());
    }
    match rhs {
        Expr::Dot(bin, ..) => {
            segs.push(Seg::Key(&bin.lhs));
            rest(&bin.rhs, segs)
        }
        Expr::Index(bin, flags, _) => {
            segs.push(Seg::Key(&bin.lhs));
            index_rest(&bin.rhs, *flags, segs)
        }
        _ => None,
    }
}

/// The end of the token starting at `start`: a string literal (with escapes), a word, a
/// number, or one character.
pub(super) fn token_end(source: &str, start: usize) -> usize {
    let Some(rest) = source.get(start..) else {
        return start;
    };
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return start;
    };
    if first == '"' || first == '`' || first == '\'' {
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                escaped = false;
            } else if c == '\\' && first != '`' {
                escaped = true;
            } else if c == first {
                return start + i + c.len_utf8();
            }
        }
        return source.len();
    }
    if first.is_alphanumeric() || first == '_' {
        let len: usize = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' && first.is_ascii_digit())
            .map(char::len_utf8)
            .sum();
        return start + len;
    }
    start + first.len_utf8()
}

/// The end (past the closing bracket) of the bracketed group opening at or after `from`
/// (after spaces): `(…)` or `[…]`, skipping string literals.
pub(super) fn matching_close(source: &str, from: usize) -> Option<usize> {
    let rest = source.get(from..)?;
    let skipped = rest.len() - rest.trim_start().len();
    let open_at = from + skipped;
    let open = source.get(open_at..)?.chars().next()?;
    let close = match open {
        '(' => ')',
        '[' => ']',
        _ => return None,
    };
    let mut depth = 0_usize;
    let mut i = open_at;
    while let Some(c) = source.get(i..).and_then(|r| r.chars().next()) {
        if c == '"' || c == '`' || c == '\'' {
            i = token_end(source, i);
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i + c.len_utf8());
            }
        }
        i += c.len_utf8();
    }
    None
}
