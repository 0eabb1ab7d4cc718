import Testing

@testable import RampartServer

@Suite struct RandomHandleTests {
    /// A handle starting with "-" could not be given to the CLI as an argument (1 in 64 were).
    @Test func handlesNeverStartWithADashAndKeepTheirShape() {
        for _ in 0..<5000 {
            let handle = RandomHandle.make()
            #expect(handle.count == 32)
            #expect(handle.first != "-")
            #expect(handle.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        }
    }
}
