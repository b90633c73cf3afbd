/// Which characters widgets may draw: Unicode blocks, braille and box drawing, or plain ASCII.
public enum GlyphMode: Hashable, Sendable, CaseIterable {
    /// Block elements, braille, box drawing and "…".
    case unicode
    /// ASCII replacements: '#', '=', "_.-~^", '.', ':', '*', "+-|" and "...".
    case ascii

    /// Unicode when the locale (`LC_ALL`, then `LC_CTYPE`, then `LANG`) names UTF-8, otherwise ASCII.
    public static func detect(environment: [String: String]) -> GlyphMode {
        for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            let lower = value.lowercased()
            return lower.contains("utf-8") || lower.contains("utf8") ? .unicode : .ascii
        }
        return .ascii
    }
}
