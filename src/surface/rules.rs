//! The Rhai sandbox that runs a surface's `[[rule]]` guards.
//!
//! One [`rhai::Engine`] is built once per process from [`Limits`] and shared by every surface:
//! it starts from [`rhai::Engine::new_raw`], gets only the pure packages a guard needs (logic,
//! strings, arrays, maps), has no module resolver, no file or network access, strict variables,
//! and a limit on every resource. Each guard is compiled once, at surface compile time, into an
//! [`rhai::AST`]; judging a command evaluates that stored AST against a fresh read-only scope.
//!
//! A guard fails closed: anything but a boolean `true` refuses the command. Rhai's own error
//! type (which mixes in control flow) never leaves this module: it becomes a [`GuardError`].

use std::sync::OnceLock;

use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicStringPackage, LogicPackage, MoreStringPackage,
    Package,
};
use rhai::{Dynamic, Engine, OptimizationLevel, Scope};
use thiserror::Error;

/// The resource limits every guard runs under. One documented place, set on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rhai operations one evaluation may perform before it is stopped.
    pub max_operations: u64,
    /// Nested function call depth.
    pub max_call_levels: usize,
    /// Nesting depth of one expression (and of function bodies).
    pub max_expr_depth: usize,
    /// Longest string a guard may build, in bytes.
    pub max_string_size: usize,
    /// Largest array a guard may build.
    pub max_array_size: usize,
    /// Largest object map a guard may build.
    pub max_map_size: usize,
    /// Longest `when` expression accepted, in bytes.
    pub max_source_len: usize,
}

impl Limits {
    /// The limits planck uses.
    pub const DEFAULT: Limits = Limits {
        max_operations: 10_000,
        max_call_levels: 8,
        max_expr_depth: 32,
        max_string_size: 4_096,
        max_array_size: 1_024,
        max_map_size: 1_024,
        max_source_len: 4_096,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The names a guard may read. Any other variable is a compile error (strict variables).
pub const SCOPE_NAMES: [&str; 4] = ["case", "actor", "command", "now"];

/// Why a guard could not be compiled or did not return a boolean.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum GuardError {
    /// The expression does not parse, or names a variable outside the scope.
    #[error("the rule does not compile: {message}")]
    Compile {
        /// Rhai's message.
        message: String,
        /// 1-based line inside the expression, when Rhai gave one.
        line: Option<usize>,
        /// 1-based column inside the expression, when Rhai gave one.
        column: Option<usize>,
    },
    /// The expression is longer than [`Limits::max_source_len`].
    #[error("the rule is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Evaluation raised an error or hit a limit.
    #[error("the rule failed to run: {0}")]
    Runtime(String),
    /// Evaluation returned something other than a boolean.
    #[error("the rule returned `{0}`, not a boolean")]
    NotBoolean(String),
}

/// A compiled guard: evaluate it with [`Guard::eval`].
#[derive(Clone, Debug)]
pub struct Guard {
    ast: rhai::AST,
    reads: Reads,
    fast: Option<FastExpr>,
}

/// A guard in the small subset that the spine judges without Rhai: comparisons of scope
/// values with literals, joined by `&&`, `||` and `!` (for example
/// `case.evidence.arrival >= 1 && case.phase != "claimed"`). Found once, when the guard is
/// compiled, by translating its syntax tree; a guard with anything else in it has none.
///
/// Judging one must give exactly Rhai's verdict. So it is only ever answered for values whose
/// Rhai semantics are plain (integers with any comparison; strings and booleans with `==` and
/// `!=`, both sides of one type); for anything else (a missing value, a float, a list, a type
/// mix) the judge answers "don't know" and Rhai runs the guard as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FastExpr {
    /// `true` or `false`.
    Bool(bool),
    /// `!e`.
    Not(Box<FastExpr>),
    /// `a && b && …` (left to right, stopping at the first `false`).
    And(Vec<FastExpr>),
    /// `a || b || …` (left to right, stopping at the first `true`).
    Or(Vec<FastExpr>),
    /// `a <op> b`.
    Compare(CompareOp, FastOperand, FastOperand),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FastOperand {
    /// An integer literal.
    Int(i64),
    /// A string literal.
    Str(String),
    /// A boolean literal.
    Bool(bool),
    /// `now`, or a property path into `case`, `actor` or `command` (`case.evidence.after`
    /// is `("case", ["evidence", "after"])`).
    Path(&'static str, Vec<String>),
}

impl FastExpr {
    /// Translate a compiled expression, if it lies wholly in the subset.
    fn of(ast: &rhai::AST) -> Option<FastExpr> {
        match ast.statements() {
            [rhai::Stmt::Expr(expr)] => FastExpr::expr(expr),
            // A top-level call is kept as a call statement.
            [rhai::Stmt::FnCall(call, _)] => FastExpr::call(call),
            _ => None,
        }
    }

    fn expr(expr: &rhai::Expr) -> Option<FastExpr> {
        use rhai::Expr;
        match expr {
            Expr::BoolConstant(b, _) => Some(FastExpr::Bool(*b)),
            Expr::And(items, _) => items
                .iter()
                .map(FastExpr::expr)
                .collect::<Option<_>>()
                .map(FastExpr::And),
            Expr::Or(items, _) => items
                .iter()
                .map(FastExpr::expr)
                .collect::<Option<_>>()
                .map(FastExpr::Or),
            Expr::FnCall(call, _) => FastExpr::call(call),
            _ => None,
        }
    }

    /// Operators only (`==(a, b)` written as a call is left to Rhai).
    fn call(call: &rhai::FnCallExpr) -> Option<FastExpr> {
        if !call.is_operator_call() {
            return None;
        }
        let op = match call.name.as_str() {
            "!" => {
                return match call.args.as_slice() {
                    [inner] => FastExpr::expr(inner).map(|e| FastExpr::Not(Box::new(e))),
                    _ => None,
                };
            }
            "==" => CompareOp::Eq,
            "!=" => CompareOp::Ne,
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::Ge,
            _ => return None,
        };
        match call.args.as_slice() {
            [a, b] => Some(FastExpr::Compare(
                op,
                FastOperand::of(a)?,
                FastOperand::of(b)?,
            )),
            _ => None,
        }
    }
}

impl FastOperand {
    fn of(expr: &rhai::Expr) -> Option<FastOperand> {
        use rhai::Expr;
        match expr {
            Expr::IntegerConstant(i, _) => Some(FastOperand::Int(*i)),
            Expr::StringConstant(s, _) => Some(FastOperand::Str(s.to_string())),
            Expr::BoolConstant(b, _) => Some(FastOperand::Bool(*b)),
            Expr::Variable(var, ..) if var.1.as_str() == "now" => {
                Some(FastOperand::Path("now", Vec::new()))
            }
            // `?.` (NEGATED) treats `()` differently; plain `.` chains only.
            Expr::Dot(dot, flags, _) if !flags.contains(rhai::ASTFlags::NEGATED) => {
                let root = match &dot.lhs {
                    Expr::Variable(var, ..) => match var.1.as_str() {
                        "case" => "case",
                        "actor" => "actor",
                        "command" => "command",
                        _ => return None,
                    },
                    _ => return None,
                };
                let mut props = Vec::new();
                let mut chain = &dot.rhs;
                loop {
                    match chain {
                        Expr::Property(prop, _) => {
                            props.push(prop.2.to_string());
                            break;
                        }
                        Expr::Dot(next, flags, _) if !flags.contains(rhai::ASTFlags::NEGATED) => {
                            match &next.lhs {
                                Expr::Property(prop, _) => props.push(prop.2.to_string()),
                                _ => return None,
                            }
                            chain = &next.rhs;
                        }
                        _ => return None,
                    }
                }
                Some(FastOperand::Path(root, props))
            }
            _ => None,
        }
    }
}

/// What a guard reads from its scope, found once when it is compiled by walking its syntax
/// tree. The spine builds only these parts of the scope (`docs/surface.md` still describes the
/// whole scope: a part a guard never names cannot change its verdict).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// Which parts of `case`.
    pub case: CaseReads,
    /// Whether `actor` is named.
    pub actor: bool,
    /// Whether `actor.profile` may be read (named, or `actor` used as a whole): the engine
    /// then loads the principal's operator profile for the command.
    pub profile: bool,
    /// Whether `command` is named.
    pub command: bool,
}

/// Which parts of the `case` map a guard reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CaseReads {
    /// `case` is never named.
    #[default]
    Nothing,
    /// Only these properties, each read as `case.<name>` (sorted, no repeats).
    Properties(Vec<String>),
    /// The map as a whole (indexed, passed to a function, or anything else).
    Everything,
}

impl CaseReads {
    /// Whether property `name` of `case` is read.
    pub fn reads(&self, name: &str) -> bool {
        match self {
            CaseReads::Nothing => false,
            CaseReads::Properties(names) => names.iter().any(|n| n == name),
            CaseReads::Everything => true,
        }
    }

    fn add(&mut self, name: &str) {
        match self {
            CaseReads::Nothing => *self = CaseReads::Properties(vec![name.to_string()]),
            CaseReads::Properties(names) => {
                if let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name)) {
                    names.insert(at, name.to_string());
                }
            }
            CaseReads::Everything => {}
        }
    }
}

impl Reads {
    /// Everything: what a guard whose reads cannot be told statically gets.
    pub fn everything() -> Reads {
        Reads {
            case: CaseReads::Everything,
            actor: true,
            profile: true,
            command: true,
        }
    }

    /// The union of `self` and `other` (several rules judged against one scope).
    pub fn merge(&mut self, other: &Reads) {
        self.actor |= other.actor;
        self.profile |= other.profile;
        self.command |= other.command;
        match (&mut self.case, &other.case) {
            (_, CaseReads::Nothing) | (CaseReads::Everything, _) => {}
            (mine, CaseReads::Everything) => *mine = CaseReads::Everything,
            (mine, CaseReads::Properties(names)) => {
                for name in names {
                    mine.add(name);
                }
            }
        }
    }

    /// Walk `ast` and collect the scope names it reads. Any use of `case` other than a plain
    /// `case.<property>` reads all of `case`; a call to `eval` reads everything.
    fn of(ast: &rhai::AST) -> Reads {
        use rhai::{ASTNode, Expr};
        let mut reads = Reads::default();
        let mut opaque = false;
        ast.walk(&mut |path: &[ASTNode]| {
            let Some((ASTNode::Expr(expr), parents)) = path.split_last() else {
                return true;
            };
            match expr {
                Expr::FnCall(call, ..) if call.name.as_str() == "eval" => {
                    opaque = true;
                    return false;
                }
                Expr::Variable(var, ..) => match var.1.as_str() {
                    "actor" => {
                        reads.actor = true;
                        if !matches!(property_of(parents.last(), expr), Some(p) if p != "profile") {
                            reads.profile = true;
                        }
                    }
                    "command" => reads.command = true,
                    "case" => match property_of(parents.last(), expr) {
                        Some(name) => reads.case.add(name),
                        None => reads.case = CaseReads::Everything,
                    },
                    _ => {}
                },
                _ => {}
            }
            true
        });
        if opaque { Reads::everything() } else { reads }
    }
}

/// The property a scope map is read through when `var` (the variable `case` or `actor`) is
/// the left side of a `case.<property>…` chain under `parent`; `None` for any other use.
fn property_of<'a>(parent: Option<&rhai::ASTNode<'a>>, var: &rhai::Expr) -> Option<&'a str> {
    use rhai::{ASTNode, Expr};
    let Some(ASTNode::Expr(Expr::Dot(dot, ..))) = parent else {
        return None;
    };
    if !std::ptr::eq(&dot.lhs, var) {
        return None;
    }
    let first = match &dot.rhs {
        Expr::Dot(chain, ..) | Expr::Index(chain, ..) => &chain.lhs,
        other => other,
    };
    match first {
        Expr::Property(prop, ..) => Some(prop.2.as_str()),
        _ => None,
    }
}

/// The values a guard sees, already converted to Rhai maps (read-only: a fresh copy per call).
#[derive(Clone, Debug, Default)]
pub struct GuardScope {
    /// `case`: phase, evidence counts, intake, assignee, owner, job, settlement.
    pub case: rhai::Map,
    /// `actor`: id and roles.
    pub actor: rhai::Map,
    /// `command`: the command's name and arguments.
    pub command: rhai::Map,
    /// `now`: unix milliseconds.
    pub now: i64,
}

/// The process-wide sandboxed engine, built on first use with [`Limits::DEFAULT`].
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| build_engine(Limits::DEFAULT))
}

/// Build a sandboxed engine with `limits` (hosts and tests may want tighter ones).
pub fn build_engine(limits: Limits) -> Engine {
    let mut engine = Engine::new_raw();
    // `case` is reserved in Rhai (for a future `switch` form); rules name the scope
    // variable `case`, so the tokenizer hands it to the parser as a plain identifier.
    #[expect(
        deprecated,
        reason = "on_parse_token is marked volatile, not deprecated"
    )]
    engine.on_parse_token(|token, _, _| match token {
        rhai::Token::Reserved(ref word) if word.as_str() == "case" => {
            rhai::Token::Identifier(word.clone())
        }
        other => other,
    });
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicStringPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine
        .set_strict_variables(true)
        .set_allow_looping(false)
        .set_allow_anonymous_fn(false)
        .set_allow_shadowing(false)
        .set_optimization_level(OptimizationLevel::Simple)
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(64)
        .set_max_functions(0);
    engine
}

/// The names guards may use, declared for strict-variable checking. They are plain variables
/// here, not constants: the optimizer inlines constants, and these values arrive only at run time.
fn compile_scope() -> Scope<'static> {
    let mut scope = Scope::new();
    scope.push("case", rhai::Map::new());
    scope.push("actor", rhai::Map::new());
    scope.push("command", rhai::Map::new());
    scope.push("now", 0_i64);
    scope
}

/// The sandboxed engine with the optimizer off: what the static rule checks read
/// ([`crate::surface::rule_check`]), so that they see the expression as written (constant
/// folding would merge literals and move positions). Never used to evaluate.
fn analysis_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut engine = build_engine(Limits::DEFAULT);
        engine.set_optimization_level(OptimizationLevel::None);
        engine
    })
}

/// Parse `source` as a guard (like [`Guard::compile`]) without optimizing it, for static
/// analysis; `None` when it does not compile (which [`Guard::compile`] reports).
pub fn parse_for_analysis(source: &str) -> Option<rhai::AST> {
    if source.len() > Limits::DEFAULT.max_source_len {
        return None;
    }
    analysis_engine()
        .compile_expression_with_scope(&compile_scope(), source)
        .ok()
}

impl Guard {
    /// Compile `source` as one Rhai expression over [`SCOPE_NAMES`].
    pub fn compile(source: &str) -> Result<Guard, GuardError> {
        let max = Limits::DEFAULT.max_source_len;
        if source.len() > max {
            return Err(GuardError::TooLong {
                len: source.len(),
                max,
            });
        }
        let scope = compile_scope();
        engine()
            .compile_expression_with_scope(&scope, source)
            .map(|ast| Guard {
                reads: Reads::of(&ast),
                fast: FastExpr::of(&ast),
                ast,
            })
            .map_err(|err| GuardError::Compile {
                message: err.err_type().to_string(),
                line: err.position().line(),
                column: err.position().position(),
            })
    }

    /// What this guard reads from its scope.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The guard as a [`FastExpr`], when it lies wholly in that subset.
    pub fn fast(&self) -> Option<&FastExpr> {
        self.fast.as_ref()
    }

    /// Evaluate against `scope`. `Ok(true)` passes, `Ok(false)` refuses, `Err` fails closed.
    pub fn eval(&self, scope: &GuardScope) -> Result<bool, GuardError> {
        self.eval_in(&mut scope.clone().into_rhai())
    }

    /// Evaluate against a scope already made with [`GuardScope::into_rhai`], so that several
    /// guards judged on one command share one scope. The scope is left as it was found.
    pub fn eval_in(&self, scope: &mut Scope<'_>) -> Result<bool, GuardError> {
        let len = scope.len();
        let value = engine().eval_ast_with_scope::<Dynamic>(scope, &self.ast);
        scope.rewind(len);
        let value = value.map_err(|err| GuardError::Runtime(err.to_string()))?;
        match value.as_bool() {
            Ok(b) => Ok(b),
            Err(type_name) => Err(GuardError::NotBoolean(type_name.to_string())),
        }
    }
}

impl GuardScope {
    /// The read-only Rhai scope: `case`, `actor` and `command` as constant maps, `now`.
    pub fn into_rhai(self) -> Scope<'static> {
        let mut scope = Scope::new();
        self.push_into(&mut scope);
        scope
    }

    fn push_into(self, scope: &mut Scope<'_>) {
        scope.push_constant("case", self.case);
        scope.push_constant("actor", self.actor);
        scope.push_constant("command", self.command);
        scope.push_constant("now", self.now);
    }

    /// Run `f` with this scope as a Rhai scope (as [`GuardScope::into_rhai`] makes it), reusing
    /// one scope per thread so that judging a rule allocates nothing for the scope itself. The
    /// values are dropped when `f` returns.
    pub fn with_rhai<R>(self, f: impl FnOnce(&mut Scope<'static>) -> R) -> R {
        thread_local! {
            static SCOPE: std::cell::RefCell<Scope<'static>> =
                std::cell::RefCell::new(Scope::with_capacity(4));
        }
        SCOPE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scope) => {
                scope.clear();
                self.push_into(&mut scope);
                let result = f(&mut scope);
                scope.clear();
                result
            }
            // Only if `f` judged rules itself: use a scope of its own.
            Err(_) => f(&mut self.into_rhai()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with_arrival(n: i64) -> GuardScope {
        let mut evidence = rhai::Map::new();
        evidence.insert("arrival".into(), Dynamic::from(n));
        let mut case = rhai::Map::new();
        case.insert("evidence".into(), Dynamic::from_map(evidence));
        GuardScope {
            case,
            ..GuardScope::default()
        }
    }

    #[test]
    fn passes_and_fails() {
        let g = Guard::compile("case.evidence.arrival >= 1").unwrap();
        assert_eq!(g.eval(&scope_with_arrival(1)), Ok(true));
        assert_eq!(g.eval(&scope_with_arrival(0)), Ok(false));
    }

    #[test]
    fn unknown_variable_does_not_compile() {
        assert!(matches!(
            Guard::compile("cas.phase == 1"),
            Err(GuardError::Compile { .. })
        ));
    }

    #[test]
    fn non_boolean_fails_closed() {
        let g = Guard::compile("case.evidence.arrival + 1").unwrap();
        assert!(matches!(
            g.eval(&scope_with_arrival(1)),
            Err(GuardError::NotBoolean(_))
        ));
    }

    #[test]
    fn runaway_string_hits_a_limit() {
        let g = Guard::compile(r#""x".pad(100000, "y") == """#).unwrap();
        assert!(matches!(
            g.eval(&GuardScope::default()),
            Err(GuardError::Runtime(_))
        ));
    }

    #[test]
    fn reads_are_found_statically() {
        let reads = |src: &str| Guard::compile(src).unwrap().reads().clone();
        let props =
            |names: &[&str]| CaseReads::Properties(names.iter().map(|n| n.to_string()).collect());
        assert_eq!(reads("now > 0"), Reads::default());
        assert_eq!(
            reads("case.evidence.arrival >= 1 && case.phase == \"arrived\""),
            Reads {
                case: props(&["evidence", "phase"]),
                ..Reads::default()
            }
        );
        assert_eq!(
            reads(r#"!("notes" in case.intake) || case.intake["notes"] != "blocked""#),
            Reads {
                case: props(&["intake"]),
                ..Reads::default()
            }
        );
        assert_eq!(reads("case.owner == actor.id").case, props(&["owner"]));
        assert!(reads("case.owner == actor.id").actor);
        assert!(!reads("case.owner == actor.id").profile);
        assert!(reads(r#"actor.profile != () && actor.profile.status == "active""#).profile);
        assert!(reads(r#"actor["profile"] == ()"#).profile);
        assert!(reads("type_of(actor) == \"map\"").profile);
        assert!(reads(r#"command.category == "note""#).command);
        assert_eq!(reads(r#"case["phase"] == "x""#).case, CaseReads::Everything);
        assert_eq!(reads("case.len() > 0").case, CaseReads::Everything);
        assert_eq!(
            reads("type_of(case) == \"map\"").case,
            CaseReads::Everything
        );
        let mut merged = reads("case.phase == \"a\"");
        merged.merge(&reads("case.evidence.x > 0 || actor.id == \"y\""));
        assert_eq!(
            merged,
            Reads {
                case: props(&["evidence", "phase"]),
                actor: true,
                profile: false,
                command: false
            }
        );
    }

    #[test]
    fn simple_guards_translate_and_others_do_not() {
        let fast = |src: &str| Guard::compile(src).unwrap().fast().cloned();
        let path = |root: &'static str, props: &[&str]| {
            FastOperand::Path(root, props.iter().map(|p| p.to_string()).collect())
        };
        assert_eq!(
            fast("case.evidence.arrival >= 1"),
            Some(FastExpr::Compare(
                CompareOp::Ge,
                path("case", &["evidence", "arrival"]),
                FastOperand::Int(1)
            ))
        );
        assert_eq!(
            fast(r#"!(case.phase == "x") && actor.id != "y" || now < 5"#),
            Some(FastExpr::Or(vec![
                FastExpr::And(vec![
                    FastExpr::Not(Box::new(FastExpr::Compare(
                        CompareOp::Eq,
                        path("case", &["phase"]),
                        FastOperand::Str("x".into())
                    ))),
                    FastExpr::Compare(
                        CompareOp::Ne,
                        path("actor", &["id"]),
                        FastOperand::Str("y".into())
                    ),
                ]),
                FastExpr::Compare(CompareOp::Lt, path("now", &[]), FastOperand::Int(5)),
            ]))
        );
        for other in [
            r#""notes" in case.intake"#,
            "case.intake.n + 1 > 2",
            "case.len() > 0",
            r#"case["phase"] == "x""#,
            "case?.phase == 1",
            "case.intake.price > 1.5",
            r#"if case.phase == "a" { true } else { false }"#,
            "case.evidence.x >= 1 && case.phase",
        ] {
            let guard = Guard::compile(other).unwrap();
            assert!(
                guard
                    .fast()
                    .is_none_or(|f| !matches!(f, FastExpr::Compare(..)) || other.contains("&&")),
                "{other}: {:?}",
                guard.fast()
            );
        }
        assert_eq!(fast("case.evidence.x >= 1 && case.phase"), None);
        assert_eq!(fast(r#""notes" in case.intake"#), None);
        assert_eq!(fast("case?.phase == 1"), None);
    }

    #[test]
    fn eval_in_leaves_the_scope_as_it_was() {
        let g = Guard::compile("case.evidence.arrival >= 1").unwrap();
        let mut scope = scope_with_arrival(1).into_rhai();
        assert_eq!(g.eval_in(&mut scope), Ok(true));
        assert_eq!(g.eval_in(&mut scope), Ok(true));
        assert_eq!(scope.len(), 4);
    }

    #[test]
    fn loops_are_refused() {
        assert!(Guard::compile("{ loop {} ; true }").is_err());
    }

    #[test]
    fn missing_key_is_a_runtime_error_or_unit() {
        let g = Guard::compile("case.nothing.deeper == 1").unwrap();
        assert!(g.eval(&GuardScope::default()).is_err());
    }
}
