// Command hello is what TestBuild builds: as small as a Go program gets, so the test measures the
// build's settings, not the linker.
package main

func main() {}
