/// What a key (or click) asks the inspector to do; the key table maps key names to actions.
public enum Action: Sendable, Equatable {
    /// Show a screen.
    case show(Screen)
    /// Next screen (Tab) or previous (BackTab).
    case cycleScreen(Int)
    /// Previous or next MoE layer.
    case changeLayer(Int)
    /// Select the next (+1) or previous (-1) expert in the shown order (overview and layer screens).
    case moveExpert(Int)
    /// Select the next (+1) or previous (-1) MoE layer in the overview's row order.
    case moveLayerRow(Int)
    /// Move the selection a page down (+1) or up (-1) in the screen's long list (layers or experts).
    case page(Int)
    /// Open the prompt to jump to an expert or a layer (`/` outside the tokens screen).
    case beginJump
    /// Order experts by index, experts by load, or layers by probe CV.
    case cycleOrder
    /// Move the token cursor by a number of tokens.
    case moveCursor(Int)
    /// Move the token cursor to the next (+1) or previous (-1) word start.
    case moveWord(Int)
    /// Move the token cursor by a line of text on the tokens screen.
    case moveLine(Int)
    /// Start typing a search (`/`).
    case beginSearch
    /// Open the prompt for text to run through the model (`e`).
    case beginTextEntry
    /// Jump to the next search match.
    case nextMatch
    /// Zoom the latent view in (> 1) or out (< 1).
    case zoom(Double)
    /// Pan the latent view by a share of its width and height.
    case pan(Double, Double)
    /// Reset zoom and pan.
    case resetView
    /// Colour points by top-1 expert or by domain.
    case toggleColoring
    /// Show values on heatmaps.
    case toggleValues
    /// Layer screen: what each expert takes (tokens, character class) in place of the reactivation log.
    /// Expert-parallel ranks on the Overview: off, 2, 4, 8, ... up to the experts, then off.
    case cycleRanks
    case toggleTakes
    /// Select an older (-1) or newer (+1) snapshot.
    case stepSnapshot(Int)
    /// Pause or resume following the live run.
    case toggleFollow
    /// Pin the current step as the comparison point.
    case pinComparison
    /// Split every screen into A | B, or back.
    case toggleSplit
    /// Toggle the help overlay.
    case toggleHelp
    /// Quit.
    case quit
}
