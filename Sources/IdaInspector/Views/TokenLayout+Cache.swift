import Foundation
import Synchronization
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

/// The last token layout computed, behind a mutex (views may render on any thread).
private final class LayoutMemo: Sendable {
    typealias Entry = (tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode, layout: TokenLayout)
    static let shared = LayoutMemo()
    private let last = Mutex<Entry?>(nil)

    func layout(tokens: [Int32], vocabulary: Vocabulary, width: Int, glyphs: GlyphMode) -> TokenLayout {
        let hit = last.withLock { entry -> TokenLayout? in
            guard let e = entry, e.width == width, e.glyphs == glyphs, e.vocabulary == vocabulary, e.tokens == tokens else {
                return nil
            }
            return e.layout
        }
        if let hit { return hit }
        let layout = TokenLayout(tokens: tokens, vocabulary: vocabulary, width: width, glyphs: glyphs)
        last.withLock { $0 = (tokens, vocabulary, width, glyphs, layout) }
        return layout
    }
}
