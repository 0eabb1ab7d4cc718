import FuzzDriver

runFuzzer()
