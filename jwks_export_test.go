package jwtauth

// AllowShortJWKSTimersForTest lifts the floors of o's durations, so tests can refresh in milliseconds.
func AllowShortJWKSTimersForTest(o *JWKSOptions) { o.shortTimersForTest = true }
