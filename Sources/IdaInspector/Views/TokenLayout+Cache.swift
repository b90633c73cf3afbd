import Foundation
import IdaRouting
import IdaTerminal

extension TokenLayout {
    /// The layout for these inputs, reused from the previous call when they are the same. Laying out
    /// a 50,000-token probe takes milliseconds and every cursor move redraws the tokens screen, so
    /// the last layout is kept (one entry; the inputs are compared in full, so it is never stale).
    static func cached(tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode) -> TokenLayout {
        LayoutMemo.shared.layout(tokens: tokens, vocabulary: vocabulary, width: width, glyphs: glyphs)
    }
}

/// The last token layout computed, behind a lock (views may render on any thread).
private final class LayoutMemo: @unchecked Sendable {
    static let shared = LayoutMemo()
    private let lock = NSLock()
    private var last: (tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode, layout: TokenLayout)?

    func layout(tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode) -> TokenLayout {
        lock.lock()
        if let last, last.width == width, last.glyphs == glyphs, last.vocabulary == vocabulary, last.tokens == tokens {
            lock.unlock()
            return last.layout
        }
        lock.unlock()
        let layout = TokenLayout(tokens: tokens, vocabulary: vocabulary, width: width, glyphs: glyphs)
        lock.withLock { last = (tokens, vocabulary, width, glyphs, layout) }
        return layout
    }
}
