import Hummingbird

// The floor of the benchmark ladder: a bare Hummingbird server answering GET /hello, built with
// the same toolchain, packages and release settings as `rampart serve`.
// Usage: rampart-bench-hello HOST PORT
let arguments = CommandLine.arguments
let host = arguments.count > 1 ? arguments[1] : "127.0.0.1"
let port = arguments.count > 2 ? Int(arguments[2]) ?? 8080 : 8080
let router = Router()
router.get("/hello") { _, _ in "hello" }
let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)))
try await app.runService()
