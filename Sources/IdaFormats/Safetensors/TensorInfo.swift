/// Where one tensor lives in a safetensors file and how to read it.
public struct TensorInfo: Sendable, Equatable {
    /// The tensor's name (a key of the header).
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let byteRange: Range<Int>

    /// A tensor description; the reader and writer check it against the file before use.
    public init(name: String, dtype: DType, shape: [Int], byteRange: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteRange = byteRange
    }

    /// Number of elements: the product of `shape` (1 for a scalar, 0 if any dimension is 0).
    public var elementCount: Int {
        shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
    }

    /// The product of `shape` (entries non-negative), or nil if it overflows `Int`.
    static func elementCount(shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = next
        }
        return product
    }
}
