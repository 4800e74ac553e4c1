//! Translation of one `Decodable::decode` body into a walker.
//!
//! A decoder is a sequence of field reads (`let x = types::Int32.decode(buf)?;`), each
//! possibly under a version condition, then the tagged-field loop. The walker keeps every
//! condition and loop as it is and replaces each read by the walker call that reads the same
//! bytes without building a value. Defaults for fields absent in a version become nothing.

use std::cell::Cell;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{Expr, Stmt};

use crate::model::{snake_case, unsupported, Api, Message};
use crate::GenError;

/// The module of one request type: a walker per struct, the request's own one public. As
/// text, so that the walkers are separated by blank lines, which rustfmt keeps.
pub fn module(api: &Api, messages: &[Message]) -> Result<String, GenError> {
    let walkers = messages
        .iter()
        .map(|message| {
            let name = format_ident!("{}", snake_case(&message.name));
            let visibility = if snake_case(&message.name) == api.module {
                quote!(pub(super))
            } else {
                quote!()
            };
            let walker = Walker {
                message,
                tag_used: Cell::new(false),
            };
            let body = walker.block(&message.decode.stmts)?;
            Ok(quote! {
                #visibility fn #name(w: &mut Walker<'_>, version: i16) -> Result<(), ShapeError> {
                    #(#body)*
                }
            }
            .to_string())
        })
        .collect::<Result<Vec<_>, GenError>>()?;
    Ok(format!(
        "mod {} {{\nuse super::{{ShapeError, Walker}};\n\n{}\n}}",
        api.module,
        walkers.join("\n\n")
    ))
}

struct Walker<'a> {
    message: &'a Message,
    /// Whether the tagged-field loop being translated matches on the tag (it has known
    /// tagged fields); if not, the tag is read and dropped.
    tag_used: Cell<bool>,
}

impl Walker<'_> {
    fn error(&self, what: impl ToTokens) -> GenError {
        unsupported(&self.message.name, &what.to_token_stream().to_string())
    }

    fn block(&self, stmts: &[Stmt]) -> Result<Vec<TokenStream>, GenError> {
        let mut out = Vec::new();
        for stmt in stmts {
            out.extend(self.stmt(stmt)?);
        }
        Ok(out)
    }

    fn stmt(&self, stmt: &Stmt) -> Result<Vec<TokenStream>, GenError> {
        match stmt {
            Stmt::Local(local) => {
                let name = binding_name(&local.pat).ok_or_else(|| self.error(&local.pat))?;
                let Some(init) = &local.init else {
                    return Ok(vec![]);
                };
                self.assignment(&name, &init.expr)
            }
            Stmt::Expr(expr, _) => self.expr_stmt(expr),
            Stmt::Macro(m) => Ok(vec![self.bail(&m.mac)?]),
            Stmt::Item(item) => Err(self.error(item)),
        }
    }

    /// `let name = init;` or `name = init;`.
    fn assignment(&self, name: &str, init: &Expr) -> Result<Vec<TokenStream>, GenError> {
        if let Some(read) = self.read(init, name)? {
            // The values the tagged-field loop uses; every other read is only skipped.
            let kept = match name {
                "num_tagged_fields" | "size" => true,
                "tag" => self.tag_used.get(),
                _ => false,
            };
            if kept {
                let ident = format_ident!("{}", name);
                let mut out = vec![quote!(let #ident = #read?;)];
                if name == "num_tagged_fields" {
                    // Each tagged field takes at least two bytes: refuse a count the body
                    // cannot hold before looping over it.
                    out.push(quote!(w.check_count(num_tagged_fields as usize)?;));
                }
                return Ok(out);
            }
            return Ok(vec![quote!(#read?;)]);
        }
        match init {
            Expr::If(_) => self.conditional(init, name),
            // `buf.try_get_bytes(size as usize)?`: an unknown tagged field's bytes.
            Expr::Try(t) if is_method_on(&t.expr, "buf", "try_get_bytes") => {
                Ok(vec![quote!(w.skip(size as usize)?;)])
            }
            other if mentions_buf(other) => Err(self.error(other)),
            // A default for a field absent in this version: nothing to read.
            _ => Ok(vec![]),
        }
    }

    /// A value chosen by version (`if version >= 9 { read } else { default }`), as statements.
    fn conditional(&self, expr: &Expr, name: &str) -> Result<Vec<TokenStream>, GenError> {
        match expr {
            Expr::If(e) => {
                let cond = condition(&e.cond);
                let then = self.branch(&e.then_branch.stmts, name)?;
                let otherwise = match &e.else_branch {
                    Some((_, other)) => self.conditional(other, name)?,
                    None => vec![],
                };
                Ok(match (then.is_empty(), otherwise.is_empty()) {
                    (true, true) => vec![],
                    (false, true) => vec![quote!(if #cond { #(#then)* })],
                    (_, false) => vec![quote!(if #cond { #(#then)* } else { #(#otherwise)* })],
                })
            }
            Expr::Block(b) => self.branch(&b.block.stmts, name),
            other => self.assignment(name, other),
        }
    }

    /// A branch of a value-if: statements, the last one the value.
    fn branch(&self, stmts: &[Stmt], name: &str) -> Result<Vec<TokenStream>, GenError> {
        match stmts {
            [Stmt::Expr(value, None)] => self.conditional(value, name),
            other => Err(self.error(quote!(#(#other)*))),
        }
    }

    fn expr_stmt(&self, expr: &Expr) -> Result<Vec<TokenStream>, GenError> {
        match expr {
            Expr::If(e) if is_version_guard(e) => {
                let unsupported = match version_bounds(&e.cond) {
                    Some((min, max)) => quote!(!(#min..=#max).contains(&version)),
                    // `version != N`: the only version of this message.
                    None => e.cond.to_token_stream(),
                };
                Ok(vec![quote! {
                    if #unsupported {
                        return Err(ShapeError::Version(version));
                    }
                }])
            }
            Expr::If(e) => {
                let cond = condition(&e.cond);
                let then = self.block(&e.then_branch.stmts)?;
                match &e.else_branch {
                    None => Ok(vec![quote!(if #cond { #(#then)* })]),
                    Some((_, other)) => {
                        let otherwise = match &**other {
                            Expr::Block(b) => self.block(&b.block.stmts)?,
                            other => self.expr_stmt(other)?,
                        };
                        Ok(vec![quote!(if #cond { #(#then)* } else { #(#otherwise)* })])
                    }
                }
            }
            Expr::Block(b) => {
                let inner = self.block(&b.block.stmts)?;
                Ok(vec![quote!({ #(#inner)* })])
            }
            Expr::ForLoop(f) => {
                let (pat, range) = (&f.pat, &f.expr);
                let matches_tag = f.body.stmts.iter().any(|stmt| {
                    matches!(stmt, Stmt::Expr(Expr::Match(m), _) if is_ident(&m.expr, "tag"))
                });
                self.tag_used.set(matches_tag);
                let body = self.block(&f.body.stmts)?;
                Ok(vec![quote!(for #pat in #range { #(#body)* })])
            }
            Expr::Match(m) => {
                let scrutinee = &m.expr;
                let arms = m
                    .arms
                    .iter()
                    .map(|arm| {
                        let pat = &arm.pat;
                        let body = self.expr_stmt(&arm.body)?;
                        Ok(quote!(#pat => { #(#body)* }))
                    })
                    .collect::<Result<Vec<_>, GenError>>()?;
                Ok(vec![quote!(match #scrutinee { #(#arms)* })])
            }
            Expr::Assign(a) => {
                let Expr::Path(target) = &*a.left else {
                    return Err(self.error(a));
                };
                let name = target.path.get_ident().ok_or_else(|| self.error(a))?;
                self.assignment(&name.to_string(), &a.right)
            }
            // `unknown_tagged_fields.insert(tag as i32, unknown_value)`: keeps nothing here.
            Expr::MethodCall(_) if is_method_on(expr, "unknown_tagged_fields", "insert") => {
                Ok(vec![])
            }
            Expr::Macro(m) => Ok(vec![self.bail(&m.mac)?]),
            // The decoder's `Ok(Self { .. })`.
            Expr::Call(c) if is_ok_call(c) => Ok(vec![quote!(Ok(()))]),
            other => Err(self.error(other)),
        }
    }

    /// `bail!(...)` inside a decoder: a tag that this version does not have.
    fn bail(&self, mac: &syn::Macro) -> Result<TokenStream, GenError> {
        let text = mac.tokens.to_string();
        if mac.path.is_ident("bail") && text.starts_with("\"Tag {} is not valid") {
            Ok(quote!(return Err(ShapeError::BadTag(tag));))
        } else {
            Err(self.error(mac))
        }
    }

    /// The walker call reading what `expr` decodes, or `None` if `expr` reads nothing.
    fn read(&self, expr: &Expr, name: &str) -> Result<Option<TokenStream>, GenError> {
        let Expr::Try(t) = expr else {
            return Ok(None);
        };
        let Expr::MethodCall(call) = &*t.expr else {
            return Ok(None);
        };
        if call.method != "decode" {
            return Ok(None);
        }
        self.reader(&call.receiver, name).map(Some)
    }

    /// The walker expression reading one value of the kafka-protocol type `ty`.
    fn reader(&self, ty: &Expr, name: &str) -> Result<TokenStream, GenError> {
        match ty {
            Expr::Path(p) => {
                let last = p.path.segments.last().ok_or_else(|| self.error(p))?;
                Ok(match last.ident.to_string().as_str() {
                    "Int8" | "Boolean" => quote!(w.skip(1)),
                    "Int16" | "UInt16" => quote!(w.skip(2)),
                    "Int32" => quote!(w.skip(4)),
                    "Int64" | "Float64" => quote!(w.skip(8)),
                    "Uuid" => quote!(w.skip(16)),
                    "UnsignedVarInt" => quote!(w.uvarint()),
                    "String" => quote!(w.string()),
                    "CompactString" => quote!(w.compact_string()),
                    "Bytes" => quote!(w.bytes()),
                    "CompactBytes" => quote!(w.compact_bytes()),
                    _ => return Err(self.error(p)),
                })
            }
            Expr::Call(c) if c.args.len() == 1 => {
                let Expr::Path(p) = &*c.func else {
                    return Err(self.error(c));
                };
                let inner = self.reader(&c.args[0], name)?;
                match p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .as_deref()
                {
                    Some("Array") => Ok(quote!(w.array(|w| #inner))),
                    Some("CompactArray") => Ok(quote!(w.compact_array(|w| #inner))),
                    _ => Err(self.error(c)),
                }
            }
            Expr::Struct(s) => {
                let walker = self.struct_walker(name)?;
                match s
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .as_deref()
                {
                    Some("Struct") => Ok(quote!(#walker(w, version))),
                    Some("OptionStruct") => Ok(quote!(w.option_struct(|w| #walker(w, version)))),
                    _ => Err(self.error(s)),
                }
            }
            other => Err(self.error(other)),
        }
    }

    /// The walker of the struct type of field `name` (through `Vec` and `Option`).
    fn struct_walker(&self, name: &str) -> Result<syn::Ident, GenError> {
        let ty = self
            .message
            .fields
            .get(name)
            .ok_or_else(|| unsupported(&self.message.name, &format!("no field {name}")))?;
        let inner = element_type(ty).ok_or_else(|| self.error(ty))?;
        Ok(format_ident!("{}", snake_case(&inner)))
    }
}

/// The name bound by `let name`, `let mut name` or `let name: T`.
fn binding_name(pat: &syn::Pat) -> Option<String> {
    match pat {
        syn::Pat::Ident(p) => Some(p.ident.to_string()),
        syn::Pat::Type(t) => binding_name(&t.pat),
        _ => None,
    }
}

/// `Foo`, `Vec<Foo>`, `Option<Foo>` or `Option<Vec<Foo>>` → `Foo`.
fn element_type(ty: &syn::Type) -> Option<String> {
    let syn::Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    match (&last.arguments, last.ident.to_string().as_str()) {
        (syn::PathArguments::AngleBracketed(args), "Vec" | "Option") => match args.args.first()? {
            syn::GenericArgument::Type(inner) => element_type(inner),
            _ => None,
        },
        (syn::PathArguments::None, ident) => Some(ident.to_owned()),
        _ => None,
    }
}

/// `if version < MIN || version > MAX { bail!("specified version not supported ...") }`.
fn is_version_guard(e: &syn::ExprIf) -> bool {
    e.else_branch.is_none()
        && matches!(e.then_branch.stmts.as_slice(),
            [Stmt::Macro(m)] if m.mac.tokens.to_string().contains("specified version not supported"))
}

/// A version condition as written, except `version >= A && version <= B`, which reads better
/// (and passes clippy) as a range.
fn condition(cond: &Expr) -> TokenStream {
    match joined_bounds(cond, |op| matches!(op, syn::BinOp::And(_)), is_ge, is_le) {
        Some((min, max)) => quote!((#min..=#max).contains(&version)),
        None => cond.to_token_stream(),
    }
}

/// `version < MIN || version > MAX`: the versions a decoder refuses.
fn version_bounds(cond: &Expr) -> Option<(syn::Lit, syn::Lit)> {
    joined_bounds(cond, |op| matches!(op, syn::BinOp::Or(_)), is_lt, is_gt)
}

/// `version LEFT_OP A JOIN version RIGHT_OP B` → `(A, B)`.
fn joined_bounds(
    cond: &Expr,
    join: fn(&syn::BinOp) -> bool,
    left_op: fn(&syn::BinOp) -> bool,
    right_op: fn(&syn::BinOp) -> bool,
) -> Option<(syn::Lit, syn::Lit)> {
    let Expr::Binary(joined) = cond else {
        return None;
    };
    if !join(&joined.op) {
        return None;
    }
    let bound = |side: &Expr, op: fn(&syn::BinOp) -> bool| match side {
        Expr::Binary(b) if op(&b.op) && is_ident(&b.left, "version") => match &*b.right {
            Expr::Lit(l) => Some(l.lit.clone()),
            _ => None,
        },
        _ => None,
    };
    Some((
        bound(&joined.left, left_op)?,
        bound(&joined.right, right_op)?,
    ))
}

fn is_lt(op: &syn::BinOp) -> bool {
    matches!(op, syn::BinOp::Lt(_))
}

fn is_gt(op: &syn::BinOp) -> bool {
    matches!(op, syn::BinOp::Gt(_))
}

fn is_ge(op: &syn::BinOp) -> bool {
    matches!(op, syn::BinOp::Ge(_))
}

fn is_le(op: &syn::BinOp) -> bool {
    matches!(op, syn::BinOp::Le(_))
}

fn is_ident(expr: &Expr, name: &str) -> bool {
    matches!(expr, Expr::Path(p) if p.path.is_ident(name))
}

fn is_method_on(expr: &Expr, receiver: &str, method: &str) -> bool {
    match expr {
        Expr::MethodCall(m) => {
            m.method == method && matches!(&*m.receiver, Expr::Path(p) if p.path.is_ident(receiver))
        }
        _ => false,
    }
}

fn is_ok_call(call: &syn::ExprCall) -> bool {
    is_ident(&call.func, "Ok")
}

/// Whether an expression reads from the buffer at all (a form this translator must know).
fn mentions_buf(expr: &Expr) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => ident == "buf",
            proc_macro2::TokenTree::Group(group) => walk(group.stream()),
            _ => false,
        })
    }
    walk(expr.to_token_stream())
}
