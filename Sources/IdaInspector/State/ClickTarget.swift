/// What a left click landed on. The views find it from the geometry they draw with, so a click
/// always means what the cell shows; the state only applies it.
public enum ClickTarget: Sendable, Equatable {
    /// A tab of the tab bar.
    case tab(Screen)
    /// A probe token on the tokens screen.
    case token(Int)
    /// An expert's load bar on the layer screen.
    case expert(Int)
    /// A cell of the prior heatmap on the layer screen: component k (expert k / M).
    case component(Int)
    /// A cell of the overview's load heatmap: MoE layer (index into the analysed layers) and expert.
    case layerExpert(layerIndex: Int, expert: Int)
}
