import FuzzDriver
import RampartCore

PIIDetector.precompile()
runFuzzer()
