// IdaRouting
