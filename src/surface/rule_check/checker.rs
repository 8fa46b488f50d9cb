//! The walk over one guard: each member chain and call checked against the surface.

use super::*;

/// How a member lookup went.
pub(super) enum Lookup {
    /// The member exists.
    Found(Ty),
    /// It exists for some of the commands the rule runs with, not for these.
    Partial(Ty, Vec<CommandKind>),
    /// It does not exist.
    Missing,
}

/// Broad classes of values, for type mismatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    Text,
    Number,
    Bool,
    List,
    Map,
    Loose,
}

pub(super) fn class(ty: Ty) -> Class {
    match ty {
        Ty::Text(_) => Class::Text,
        Ty::Count | Ty::Time | Ty::Amount | Ty::Number => Class::Number,
        Ty::Bool => Class::Bool,
        Ty::List(_) => Class::List,
        Ty::Map(_) => Class::Map,
        Ty::Unit | Ty::Any => Class::Loose,
    }
}

/// "a count", "a phase id", ... for messages.
pub(super) fn describe(ty: Ty) -> &'static str {
    match ty {
        Ty::Text(Domain::Phase) => "a phase id",
        Ty::Text(Domain::Category) => "an evidence category",
        Ty::Text(Domain::Command) => "a command name",
        Ty::Text(Domain::Role) => "a role",
        Ty::Text(
            Domain::Task
            | Domain::Job
            | Domain::ServiceEvent
            | Domain::Settlement
            | Domain::OperatorStatus,
        ) => "a state name",
        Ty::Text(Domain::Free) => "a text",
        Ty::Count => "a count",
        Ty::Time => "a time in unix milliseconds",
        Ty::Amount => "an amount in minor units",
        Ty::Number => "a number",
        Ty::Bool => "a boolean",
        Ty::List(_) => "a list",
        Ty::Map(MapKind::Evidence) => "a map of evidence counts",
        Ty::Map(MapKind::Intake) => "the intake map",
        Ty::Map(_) => "a map",
        Ty::Unit => "`()`",
        Ty::Any => "a value",
    }
}

pub(super) struct Checker<'s, 'd> {
    pub(super) source: &'s str,
    pub(super) declared: &'d Declared<'d>,
    pub(super) findings: Vec<Finding>,
}

impl Checker<'_, '_> {
    fn push(
        &mut self,
        code: Code,
        severity: Severity,
        range: Range<usize>,
        message: String,
        label: &str,
        help: Option<String>,
    ) {
        self.findings.push(Finding {
            code,
            severity,
            range,
            message,
            label: label.to_string(),
            help,
        });
    }

    /// Check every member of the chain at `expr`, reporting the first that does not exist.
    pub(super) fn chain(&mut self, expr: &Expr) {
        if let Some((root, pos, segs)) = flatten(expr) {
            self.resolve(root, pos, &segs, true);
        }
    }

    /// The type at the end of a chain; `None` when a member does not exist (reported when
    /// `report`) or the chain cannot be read statically.
    fn resolve(&mut self, root: &str, pos: Position, segs: &[Seg<'_>], report: bool) -> Option<Ty> {
        let mut ty = match root {
            "case" => Ty::Map(MapKind::Case),
            "actor" => Ty::Map(MapKind::Actor),
            "command" => Ty::Map(MapKind::Command),
            "now" => Ty::Time,
            _ => return None,
        };
        let start = self.offset(pos)?;
        let mut path_end = token_end(self.source, start);
        for seg in segs {
            let path = self.source.get(start..path_end).unwrap_or(root).to_string();
            match seg {
                Seg::Prop(name, pos) => {
                    let range = self.token(*pos)?;
                    path_end = range.end;
                    ty = self.member(ty, &path, name, range, report)?;
                }
                Seg::Key(Expr::StringConstant(name, pos)) => {
                    let range = self.token(*pos)?;
                    path_end = self.after_close(range.end, ']');
                    ty = self.member(ty, &path, name, range, report)?;
                }
                Seg::Key(key) => {
                    path_end = self
                        .expr_end(key)
                        .map_or(path_end, |e| self.after_close(e, ']'));
                    ty = match ty {
                        Ty::Map(MapKind::Evidence) => Ty::Count,
                        Ty::List(domain) => Ty::Text(domain),
                        _ => Ty::Any,
                    };
                }
                Seg::Method(call) => {
                    if report {
                        self.method(ty, &path, call);
                    }
                    ty = Ty::Any;
                }
            }
        }
        Some(ty)
    }

    /// `ty.name`: its type, or a finding.
    fn member(
        &mut self,
        ty: Ty,
        path: &str,
        name: &str,
        range: Range<usize>,
        report: bool,
    ) -> Option<Ty> {
        let kind = match ty {
            Ty::Map(kind) => kind,
            Ty::Any => return Some(Ty::Any),
            other => {
                if report {
                    let what = if path == "now" {
                        "a number (unix milliseconds)".to_string()
                    } else {
                        describe(other).to_string()
                    };
                    self.push(
                        Code::UnknownMember,
                        Severity::Error,
                        range,
                        format!("`{path}` is {what}: it has no member `{name}`"),
                        "no such member",
                        Some(format!("read `{path}` itself")),
                    );
                }
                return None;
            }
        };
        match self.lookup(kind, name) {
            Lookup::Found(ty) => Some(ty),
            Lookup::Partial(ty, missing_for) => {
                if report {
                    let runs: Vec<&str> =
                        self.declared.commands.iter().map(|k| k.as_str()).collect();
                    let without: Vec<&str> = missing_for.iter().map(|k| k.as_str()).collect();
                    self.push(
                        Code::UnknownMember,
                        Severity::Warning,
                        range,
                        format!(
                            "`{path}.{name}` is `()` when the rule runs for {}",
                            list_in_backticks(&without)
                        ),
                        "not an argument of every command this rule runs for",
                        Some(format!(
                            "this rule is judged with {}; only some of them carry `{name}`",
                            list_in_backticks(&runs)
                        )),
                    );
                }
                Some(ty)
            }
            Lookup::Missing => {
                if report {
                    self.missing_member(kind, path, name, range);
                }
                None
            }
        }
    }

    fn lookup(&self, kind: MapKind, name: &str) -> Lookup {
        let table = |members: &[(&str, Ty)]| {
            members
                .iter()
                .find(|(m, _)| *m == name)
                .map_or(Lookup::Missing, |(_, ty)| Lookup::Found(*ty))
        };
        match kind {
            MapKind::Case => table(CASE_MEMBERS),
            MapKind::Actor => table(ACTOR_MEMBERS),
            MapKind::Profile => table(PROFILE_MEMBERS),
            MapKind::Evidence => {
                if self.declared.categories.contains(&name) {
                    Lookup::Found(Ty::Count)
                } else {
                    Lookup::Missing
                }
            }
            MapKind::Intake => {
                if self.declared.intake.contains(&name) {
                    Lookup::Found(Ty::Any)
                } else {
                    Lookup::Missing
                }
            }
            MapKind::Command => {
                if name == "name" {
                    return Lookup::Found(Ty::Text(Domain::Command));
                }
                let commands = &self.declared.commands;
                if commands.is_empty() {
                    return Lookup::Found(Ty::Any);
                }
                let mut found = None;
                let mut missing_for = Vec::new();
                for kind in commands {
                    match command_args(*kind).iter().find(|(m, _)| *m == name) {
                        Some((_, ty)) => found = Some(*ty),
                        None => missing_for.push(*kind),
                    }
                }
                match found {
                    None => Lookup::Missing,
                    Some(ty) if missing_for.is_empty() => Lookup::Found(ty),
                    Some(ty) => Lookup::Partial(ty, missing_for),
                }
            }
        }
    }

    /// The names a map has, for "did you mean".
    fn names_of(&self, kind: MapKind) -> Vec<&str> {
        match kind {
            MapKind::Case => CASE_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Actor => ACTOR_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Profile => PROFILE_MEMBERS.iter().map(|(n, _)| *n).collect(),
            MapKind::Evidence => self.declared.categories.clone(),
            MapKind::Intake => self.declared.intake.clone(),
            MapKind::Command => {
                let mut names = vec!["name"];
                for kind in &self.declared.commands {
                    for (n, _) in command_args(*kind) {
                        if !names.contains(n) {
                            names.push(n);
                        }
                    }
                }
                names
            }
        }
    }

    fn missing_member(&mut self, kind: MapKind, path: &str, name: &str, range: Range<usize>) {
        let known = self.names_of(kind);
        let suggestion = closest(name, &known).map(|near| format!("did you mean `{near}`?"));
        let listed = |what: &str| match known.as_slice() {
            [] => format!("no {what} is declared"),
            few if few.len() <= 12 => {
                format!("the declared {what}s are {}", list_in_backticks(few))
            }
            _ => format!("name a declared {what}"),
        };
        let (code, message, label, help) = match kind {
            MapKind::Evidence => (
                Code::UnknownCategory,
                format!("`{name}` is not a declared evidence category"),
                "not in `[evidence]`",
                suggestion.unwrap_or_else(|| {
                    format!(
                        "{}; an undeclared category always counts as `()`",
                        listed("category")
                    )
                }),
            ),
            MapKind::Intake => (
                Code::UnknownIntakeField,
                format!("`{name}` is not a declared intake field"),
                "not in `[intake]`",
                suggestion.unwrap_or_else(|| {
                    format!(
                        "{}; a request never carries an undeclared field",
                        listed("intake field")
                    )
                }),
            ),
            MapKind::Case | MapKind::Actor | MapKind::Command | MapKind::Profile => {
                let commands: Vec<&str> =
                    self.declared.commands.iter().map(|k| k.as_str()).collect();
                let context = if kind == MapKind::Command {
                    format!(" when the rule runs for {}", list_in_backticks(&commands))
                } else {
                    String::new()
                };
                (
                    Code::UnknownMember,
                    format!("`{path}` has no member `{name}`{context}"),
                    "no such member",
                    suggestion
                        .unwrap_or_else(|| format!("`{path}` has {}", list_in_backticks(&known))),
                )
            }
        };
        self.push(code, Severity::Error, range, message, label, Some(help));
    }

    /// `x.contains("name")` on a map or a list.
    fn method(&mut self, ty: Ty, path: &str, call: &FnCallExpr) {
        if call.name.as_str() != "contains" {
            return;
        }
        let [Expr::StringConstant(item, pos)] = call.args.as_slice() else {
            return;
        };
        let Some(range) = self.token(*pos) else {
            return;
        };
        self.contains(ty, path, item, range);
    }

    /// `item in <ty>`: a key of a map or a value of a list.
    fn contains(&mut self, ty: Ty, path: &str, item: &str, range: Range<usize>) {
        match ty {
            Ty::Map(kind @ (MapKind::Evidence | MapKind::Intake)) => {
                if matches!(self.lookup(kind, item), Lookup::Missing) {
                    self.missing_member(kind, path, item, range);
                }
            }
            Ty::List(domain) => self.value(domain, path, item, range),
            _ => {}
        }
    }

    /// A call: comparisons and `in`.
    pub(super) fn call(&mut self, call: &FnCallExpr, pos: Position) {
        let name = call.name.as_str();
        let [a, b] = call.args.as_slice() else {
            return;
        };
        match name {
            "==" | "!=" | "<" | "<=" | ">" | ">=" if call.is_operator_call() => {
                self.compare(name, a, b, pos)
            }
            // `x in y` is `contains(y, x)`.
            "contains" => self.in_check(a, b),
            _ => {}
        }
    }

    fn in_check(&mut self, container: &Expr, item: &Expr) {
        if let Expr::StringConstant(text, pos) = item {
            let Some((root, rpos, segs)) = flatten(container) else {
                return;
            };
            let Some(ty) = self.resolve(root, rpos, &segs, false) else {
                return;
            };
            let Some(range) = self.token(*pos) else {
                return;
            };
            let path = self.expr_text(container);
            self.contains(ty, &path, text, range);
            return;
        }
        if let Expr::Array(items, _) = container {
            let Some(Ty::Text(domain)) = self.type_of(item) else {
                return;
            };
            let path = self.expr_text(item);
            for element in items.iter() {
                if let Expr::StringConstant(text, pos) = element
                    && let Some(range) = self.token(*pos)
                {
                    self.value(domain, &path, text, range);
                }
            }
        }
    }

    fn compare(&mut self, op: &str, a: &Expr, b: &Expr, pos: Position) {
        let (ta, tb) = (self.type_of(a), self.type_of(b));
        if op == "==" || op == "!=" {
            for (side, other, other_ty) in [(a, b, tb), (b, a, ta)] {
                if let (Some(Ty::Text(domain)), Expr::StringConstant(text, lpos)) = (other_ty, side)
                    && let Some(range) = self.token(*lpos)
                {
                    let path = self.expr_text(other);
                    self.value(domain, &path, text, range);
                }
            }
        }
        let (Some(x), Some(y)) = (ta, tb) else {
            return;
        };
        let (cx, cy) = (class(x), class(y));
        if cx == Class::Loose || cy == Class::Loose || cx == cy {
            return;
        }
        let range = match (self.expr_start(a), self.expr_end(b)) {
            (Some(s), Some(e)) if s < e => s..e,
            _ => match self.token(pos) {
                Some(r) => r,
                None => return,
            },
        };
        let (left, right) = (self.expr_text(a), self.expr_text(b));
        let verdict = if op == "!=" { "true" } else { "false" };
        let help = match (x, y) {
            (Ty::List(_), Ty::Text(_)) => {
                format!("to ask whether the list holds it, write `{right} in {left}`")
            }
            (Ty::Text(_), Ty::List(_)) => {
                format!("to ask whether the list holds it, write `{left} in {right}`")
            }
            (Ty::Count | Ty::Amount | Ty::Time, Ty::Text(_))
            | (Ty::Text(_), Ty::Count | Ty::Amount | Ty::Time) => {
                "compare a number with a number: write it without quotes".to_string()
            }
            (Ty::Text(_), Ty::Number) | (Ty::Number, Ty::Text(_)) => {
                "compare a text with a text: write it in quotes".to_string()
            }
            _ => "compare values of one type".to_string(),
        };
        self.push(
            Code::TypeMismatch,
            Severity::Error,
            range,
            format!(
                "`{left}` is {} and `{right}` is {}: `{op}` between them is always {verdict}",
                describe(x),
                describe(y)
            ),
            "these never compare",
            Some(help),
        );
    }

    /// A literal `text` that a value of `domain` (read at `path`) is compared with.
    fn value(&mut self, domain: Domain, path: &str, text: &str, range: Range<usize>) {
        let states = |all: &[&'static str]| all.to_vec();
        let (known, what): (Vec<&str>, &str) = match domain {
            Domain::Free => return,
            Domain::Phase => (self.declared.phases.clone(), "phase id"),
            Domain::Category => (self.declared.categories.clone(), "evidence category"),
            Domain::Task => (
                states(&[
                    TaskState::Open.as_str(),
                    TaskState::Approved.as_str(),
                    TaskState::Rejected.as_str(),
                    TaskState::Closed.as_str(),
                ]),
                "task state",
            ),
            Domain::Job => (
                states(&[
                    JobState::Queued.as_str(),
                    JobState::Claimed.as_str(),
                    JobState::Completed.as_str(),
                    JobState::Cancelled.as_str(),
                ]),
                "job state",
            ),
            Domain::ServiceEvent => (
                states(&[
                    ServiceEventState::Open.as_str(),
                    ServiceEventState::Complete.as_str(),
                ]),
                "service event state",
            ),
            Domain::Settlement => (
                states(&[
                    SettlementStatus::Pending.as_str(),
                    SettlementStatus::Captured.as_str(),
                    SettlementStatus::Refunded.as_str(),
                    SettlementStatus::Waived.as_str(),
                ]),
                "settlement status",
            ),
            Domain::Role => (Role::ALL.iter().map(|r| r.as_str()).collect(), "role"),
            Domain::OperatorStatus => (
                states(&[
                    OperatorStatus::Active.as_str(),
                    OperatorStatus::Suspended.as_str(),
                ]),
                "operator status",
            ),
            Domain::Command => {
                let runs: Vec<&str> = self.declared.commands.iter().map(|k| k.as_str()).collect();
                if runs.is_empty() || runs.contains(&text) {
                    return;
                }
                if CommandKind::parse(text).is_some() {
                    self.push(
                        Code::UnknownValue,
                        Severity::Warning,
                        range,
                        format!("this rule is never judged with `{text}`"),
                        "never this command",
                        Some(format!(
                            "the rule runs for {}, so `{path}` is never `{text}`",
                            list_in_backticks(&runs)
                        )),
                    );
                    return;
                }
                let all: Vec<&str> = CommandKind::ALL.iter().map(|k| k.as_str()).collect();
                let help = closest(text, &all)
                    .map(|near| format!("did you mean `{near}`?"))
                    .unwrap_or_else(|| format!("the rule runs for {}", list_in_backticks(&runs)));
                self.push(
                    Code::UnknownValue,
                    Severity::Error,
                    range,
                    format!("`{text}` is not a command name"),
                    "not a command",
                    Some(help),
                );
                return;
            }
        };
        if known.contains(&text) {
            return;
        }
        let help = closest(text, &known)
            .map(|near| format!("did you mean `{near}`?"))
            .unwrap_or_else(|| match known.as_slice() {
                [] => format!("no {what} is declared"),
                few if few.len() <= 12 => {
                    format!("`{path}` is one of {}", list_in_backticks(few))
                }
                _ => format!("name a declared {what}"),
            });
        let code = match domain {
            Domain::Phase => Code::UnknownPhase,
            Domain::Category => Code::UnknownCategory,
            _ => Code::UnknownValue,
        };
        self.push(
            code,
            Severity::Error,
            range,
            format!("`{text}` is not a {what}: `{path}` is never `{text}`"),
            &format!("not a {what}"),
            Some(help),
        );
    }

    /// The static type of an operand, without reporting anything.
    fn type_of(&mut self, expr: &Expr) -> Option<Ty> {
        match expr {
            Expr::StringConstant(..) | Expr::InterpolatedString(..) => Some(Ty::Text(Domain::Free)),
            Expr::IntegerConstant(..) | Expr::FloatConstant(..) => Some(Ty::Number),
            Expr::BoolConstant(..) => Some(Ty::Bool),
            Expr::Unit(..) => Some(Ty::Unit),
            Expr::Array(..) => Some(Ty::List(Domain::Free)),
            Expr::Variable(..) | Expr::Dot(..) | Expr::Index(..) => {
                let (root, pos, segs) = flatten(expr)?;
                self.resolve(root, pos, &segs, false)
            }
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Positions.

    /// Byte offset of a Rhai position (1-based line, 1-based column in characters).
    fn offset(&self, pos: Position) -> Option<usize> {
        let (line, column) = (pos.line()?, pos.position()?);
        let mut start = 0;
        for _ in 1..line {
            start += self.source.get(start..)?.find('\n')? + 1;
        }
        let rest = self.source.get(start..)?;
        let skip = column.checked_sub(1)?;
        let within = rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i);
        Some(start + within)
    }

    /// The range of the token at `pos`.
    fn token(&self, pos: Position) -> Option<Range<usize>> {
        let start = self.offset(pos)?;
        Some(start..token_end(self.source, start))
    }

    /// Past the `close` character that follows `end` (after spaces), or `end`.
    fn after_close(&self, end: usize, close: char) -> usize {
        let rest = self.source.get(end..).unwrap_or("");
        let trimmed = rest.trim_start();
        if trimmed.starts_with(close) {
            end + (rest.len() - trimmed.len()) + close.len_utf8()
        } else {
            end
        }
    }

    fn expr_start(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Dot(bin, ..) | Expr::Index(bin, ..) => self.expr_start(&bin.lhs),
            Expr::And(items, _) | Expr::Or(items, _) | Expr::Coalesce(items, _) => {
                self.expr_start(items.first()?)
            }
            Expr::FnCall(call, pos) if call.is_operator_call() && call.args.len() == 2 => self
                .expr_start(call.args.first()?)
                .or_else(|| self.offset(*pos)),
            other => self.offset(other.start_position()),
        }
    }

    fn expr_end(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Dot(bin, ..) => self.expr_end(&bin.rhs),
            Expr::Index(bin, flags, _) => {
                let end = self.expr_end(&bin.rhs)?;
                Some(if flags.contains(ASTFlags::BREAK) {
                    self.after_close(end, ']')
                } else {
                    end
                })
            }
            Expr::MethodCall(_, pos) => {
                let name_end = token_end(self.source, self.offset(*pos)?);
                Some(matching_close(self.source, name_end).unwrap_or(name_end))
            }
            Expr::Array(_, pos) => {
                let open = self.offset(*pos)?;
                Some(matching_close(self.source, open).unwrap_or(open + 1))
            }
            Expr::FnCall(call, pos) => match call.args.as_slice() {
                [_, b] if call.is_operator_call() => self.expr_end(b),
                _ => {
                    let name_end = token_end(self.source, self.offset(*pos)?);
                    Some(matching_close(self.source, name_end).unwrap_or(name_end))
                }
            },
            Expr::And(items, _) | Expr::Or(items, _) | Expr::Coalesce(items, _) => {
                self.expr_end(items.last()?)
            }
            other => Some(token_end(self.source, self.offset(other.position())?)),
        }
    }

    /// The text of `expr` as written (for messages); empty when its range is unknown.
    fn expr_text(&self, expr: &Expr) -> String {
        match (self.expr_start(expr), self.expr_end(expr)) {
            (Some(s), Some(e)) => self.source.get(s..e).unwrap_or("").trim().to_string(),
            _ => String::new(),
        }
    }
}
