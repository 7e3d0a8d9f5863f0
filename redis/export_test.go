package jwtauthredis

// RedisURL gives the external test package (example_test.go) the skip-or-fail rule of redisURL.
var RedisURL = redisURL
