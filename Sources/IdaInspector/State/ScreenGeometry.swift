/// What the state needs to know about the screen as the views draw it, which only the views can
/// say: how many items one page of each long list shows. The views compute it from the state and
/// the terminal size, and the runtime hands it to `update` as a `.geometry` event before each key,
/// so a page key pages what is on screen and the state never calls a view.
public struct ScreenGeometry: Sendable, Equatable {
    /// Heatmap rows of MoE layers on one page of the overview (at least 1).
    public var layersPerPage: Int
    /// Load bars of experts on one page of the layer screen (at least 1).
    public var expertsPerPage: Int

    /// Pages of `layersPerPage` layers and `expertsPerPage` experts (1 each until the views say).
    public init(layersPerPage: Int = 1, expertsPerPage: Int = 1) {
        self.layersPerPage = max(1, layersPerPage)
        self.expertsPerPage = max(1, expertsPerPage)
    }
}
