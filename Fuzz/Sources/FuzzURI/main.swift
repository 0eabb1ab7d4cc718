import Foundation

// libFuzzer's driver runs `fuzz` on every input (the package links libFuzzer without its main).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argumentCount = CommandLine.argc
var arguments = CommandLine.unsafeArgv
exit(
    runDriver(&argumentCount, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzz(data, size)
    }
)
