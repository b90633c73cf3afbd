import IdaCLI

prepareBLASEnvironment()
IdamoeCommand.runReportingOneLine()
