module gocache.bench/cacheprog-trace

go 1.24
