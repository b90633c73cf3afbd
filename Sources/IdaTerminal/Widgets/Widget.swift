/// Something that draws itself into a rectangle of a buffer; rendering is pure and never
/// touches cells outside `area`.
public protocol Widget {
    /// Draws into `area` of `buffer`.
    func render(in area: Rect, into buffer: inout ScreenBuffer)
}
