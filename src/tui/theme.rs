//! Themes: widgets ask for a meaning (`theme.health(Healthy)`), never a colour.
//! Built-in dark, light and high-contrast themes; a theme file may override only
//! some meanings; `NO_COLOR` strips colours but keeps bold/underline/reverse.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::playbook::Health;

/// One style as written in a theme file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

/// The meanings a theme gives a style to.
pub const MEANINGS: [&str; 19] = [
    "text",
    "dim",
    "title",
    "border",
    "border_focused",
    "header",
    "healthy",
    "degraded",
    "unhealthy",
    "unknown",
    "stale",
    "warn",
    "alert",
    "ok",
    "selected",
    "key",
    "sparkline",
    "threshold",
    "input",
];

/// Styles by meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    styles: BTreeMap<String, Style>,
    /// Name shown in help.
    pub name: String,
}

const BUILT_IN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

fn color(name: &str) -> Result<Color, String> {
    name.parse::<Color>().map_err(|_| format!("unknown colour {name:?} (a name like \"red\" or \"#rrggbb\")"))
}

fn style(spec: &StyleSpec, colours: bool) -> Result<Style, String> {
    let mut s = Style::default();
    if colours {
        if let Some(fg) = &spec.fg {
            s = s.fg(color(fg)?);
        }
        if let Some(bg) = &spec.bg {
            s = s.bg(color(bg)?);
        }
    }
    for (on, m) in [
        (spec.bold, Modifier::BOLD),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
        (spec.dim, Modifier::DIM),
    ] {
        if on {
            s = s.add_modifier(m);
        }
    }
    Ok(s)
}

fn parse_specs(text: &str, origin: &str) -> Result<BTreeMap<String, StyleSpec>, String> {
    let specs: BTreeMap<String, StyleSpec> = toml::from_str(text).map_err(|e| {
        let (line, col) = crate::config::line_column(text, e.span().map_or(0, |s| s.start));
        format!("{origin}:{line}:{col}: {} (see themes/dark.toml for every key)", e.message().trim())
    })?;
    if let Some(bad) = specs.keys().find(|k| !MEANINGS.contains(&k.as_str())) {
        return Err(format!("{origin}: unknown theme key {bad:?} (known: {})", MEANINGS.join(", ")));
    }
    Ok(specs)
}

impl Theme {
    /// A built-in theme by name, or a theme file layered over the dark theme.
    /// `no_color` keeps modifiers only.
    pub fn load(name_or_path: &str, no_color: bool) -> Result<Theme, String> {
        let mut specs = parse_specs(BUILT_IN[0].1, "dark")?;
        let (name, overrides) = match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((n, text)) => (n.to_string(), parse_specs(text, n)?),
            None => {
                let path = Path::new(name_or_path);
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("theme {name_or_path:?} is neither dark, light, high-contrast nor a readable file: {e}")
                })?;
                (path.display().to_string(), parse_specs(&text, &path.display().to_string())?)
            }
        };
        specs.extend(overrides);
        let mut styles = BTreeMap::new();
        for m in MEANINGS {
            let spec = specs.get(m).cloned().unwrap_or_default();
            styles.insert(m.to_string(), style(&spec, !no_color)?);
        }
        Ok(Theme { styles, name })
    }

    /// The built-in dark theme.
    pub fn dark() -> Theme {
        Theme::load("dark", false).unwrap_or_else(|_| Theme { styles: BTreeMap::new(), name: "plain".into() })
    }

    /// The style of a meaning.
    pub fn get(&self, meaning: &str) -> Style {
        self.styles.get(meaning).copied().unwrap_or_default()
    }

    /// Body text.
    pub fn text(&self) -> Style {
        self.get("text")
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        self.get("dim")
    }

    /// A pane border, brighter when focused.
    pub fn border(&self, focused: bool) -> Style {
        self.get(if focused { "border_focused" } else { "border" })
    }

    /// The style of a health state; `None` is unknown.
    pub fn health(&self, h: Option<Health>) -> Style {
        self.get(match h {
            Some(Health::Healthy) => "healthy",
            Some(Health::Degraded) => "degraded",
            Some(Health::Unhealthy) => "unhealthy",
            None => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_loads_and_differs() {
        let themes: Vec<Theme> = BUILT_IN.iter().map(|(n, _)| Theme::load(n, false).unwrap()).collect();
        assert_ne!(themes[0], themes[1]);
        assert_ne!(themes[1], themes[2]);
        assert_eq!(themes[0].get("healthy").fg, Some(Color::Green));
    }

    #[test]
    fn partial_file_overrides_only_its_keys_and_no_color_strips_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, "healthy = { fg = \"#00ff00\", bold = true }\n").unwrap();
        let t = Theme::load(path.to_str().unwrap(), false).unwrap();
        assert_eq!(t.get("healthy").fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(t.get("unhealthy"), Theme::dark().get("unhealthy"));
        let plain = Theme::load(path.to_str().unwrap(), true).unwrap();
        assert_eq!(plain.get("healthy").fg, None);
        assert!(plain.get("healthy").add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn bad_theme_file_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "text = { fg = \"red\" }\nhealthy = { colour = \"red\" }\n").unwrap();
        let e = Theme::load(path.to_str().unwrap(), false).unwrap_err();
        assert!(e.contains("bad.toml:2:"), "{e}");
        std::fs::write(&path, "shiny = { fg = \"red\" }\n").unwrap();
        assert!(Theme::load(path.to_str().unwrap(), false).unwrap_err().contains("unknown theme key \"shiny\""));
    }
}
