//! A small tokenizer for arithmetic expressions, with spans for error reporting.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

/// A half-open byte range into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// The kinds of token the lexer produces.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    Number(f64),
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Errors the lexer can report.
#[derive(Debug, PartialEq)]
pub enum LexError {
    UnexpectedChar { ch: char, at: usize },
    BadNumber { text: String, span: Span },
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnexpectedChar { ch, at } => write!(f, "unexpected {ch:?} at byte {at}"),
            LexError::BadNumber { text, span } => {
                write!(f, "bad number {text:?} at {}..{}", span.start, span.end)
            }
        }
    }
}

impl std::error::Error for LexError {}

pub trait Lex {
    fn tokens(&self) -> Result<Vec<Token>, LexError>;
}

pub struct Lexer<'a> {
    src: &'a str,
    chars: Peekable<CharIndices<'a>>,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, chars: src.char_indices().peekable() }
    }

    fn take_while<F: Fn(char) -> bool>(&mut self, start: usize, pred: F) -> usize {
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if !pred(c) {
                break;
            }
            end = i + c.len_utf8();
            self.chars.next();
        }
        end
    }

    fn number(&mut self, start: usize) -> Result<Token, LexError> {
        let end = self.take_while(start, |c| c.is_ascii_digit() || c == '.');
        let text = &self.src[start..end];
        let span = Span { start, end };
        text.parse::<f64>()
            .map(|n| Token { kind: TokenKind::Number(n), span })
            .map_err(|_| LexError::BadNumber { text: text.to_string(), span })
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Token, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(&(_, c)) = self.chars.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.chars.next();
        }
        let (start, c) = self.chars.next()?;
        let single = |kind| Some(Ok(Token { kind, span: Span { start, end: start + 1 } }));
        match c {
            '+' => single(TokenKind::Plus),
            '-' => single(TokenKind::Minus),
            '*' => single(TokenKind::Star),
            '/' => single(TokenKind::Slash),
            '(' => single(TokenKind::LParen),
            ')' => single(TokenKind::RParen),
            d if d.is_ascii_digit() => Some(self.number(start)),
            a if a.is_alphabetic() || a == '_' => {
                let end = self.take_while(start + a.len_utf8(), |c| c.is_alphanumeric() || c == '_');
                let name = self.src[start..end].to_string();
                Some(Ok(Token { kind: TokenKind::Ident(name), span: Span { start, end } }))
            }
            other => Some(Err(LexError::UnexpectedChar { ch: other, at: start })),
        }
    }
}

impl Lex for str {
    fn tokens(&self) -> Result<Vec<Token>, LexError> {
        Lexer::new(self).collect()
    }
}

macro_rules! kinds {
    ($src:expr) => {
        $src.tokens().unwrap().into_iter().map(|t| t.kind).collect::<Vec<_>>()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_expression() {
        assert_eq!(
            kinds!("1 + x*(2.5)"),
            vec![
                TokenKind::Number(1.0),
                TokenKind::Plus,
                TokenKind::Ident("x".into()),
                TokenKind::Star,
                TokenKind::LParen,
                TokenKind::Number(2.5),
                TokenKind::RParen,
            ]
        );
    }

    #[test]
    fn reports_bad_char() {
        assert_eq!("1 $".tokens(), Err(LexError::UnexpectedChar { ch: '$', at: 2 }));
    }
}
