import IdaCLI

prepareProcess()
IdamoeCommand.runReportingOneLine()
