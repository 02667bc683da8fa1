; Inno Setup 6 script: the Windows installer for Bridge Lab, per-user, no administrator.
;
; Build the one-folder bundle first (packaging/windows/README.md), then, from the
; repository root:
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\bridgelab.iss
; Output: dist\bridgelab-<version>-windows-x64-setup.exe
;
; Installs into %LOCALAPPDATA%\Programs\Bridge Lab (an administrator may choose "all
; users" in the first dialog instead), adds a Start menu entry that opens the window
; (bridgelab-gui.exe, no console), and optionally puts `bridgelab` on the user's PATH.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "Bridge Lab"
#define DistDir "..\..\dist\bridgelab"

[Setup]
; Never change AppId: Windows finds the installed copy (for upgrades and removal) by it.
AppId={{6E1F3C1A-3F0B-4C52-9D1E-7B2A5B8C4D21}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Bridge Lab
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user by default: field laptops rarely give engineers administrator rights.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=bridgelab-{#AppVersion}-windows-x64-setup
SetupIconFile=..\icons\bridgelab.ico
UninstallDisplayIcon={app}\bridgelab-gui.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesEnvironment=yes
; Code signing needs the company's certificate; define it in the IDE (Tools > Configure
; Sign Tools) as "companysign" and build with /DSign to use it.
#ifdef Sign
SignTool=companysign
#endif

[Tasks]
Name: "addtopath"; Description: "Add the bridgelab command to my PATH (for scripts and the terminal)"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\bridgelab-gui.exe"; WorkingDir: "{userdocs}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\bridgelab-gui.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\bridgelab-gui.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Registry]
; Per-user install: the user's PATH (HKCU); all-users install: the machine's (HKLM).
Root: HKA; Subkey: "{code:EnvironmentKey}"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Code]
function EnvironmentKey(Param: String): String;
begin
  if IsAdminInstallMode then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

function RootKey(): Integer;
begin
  if IsAdminInstallMode then
    Result := HKEY_LOCAL_MACHINE
  else
    Result := HKEY_CURRENT_USER;
end;

function NeedsAddPath(Dir: String): Boolean;
var
  Path: String;
begin
  if not RegQueryStringValue(RootKey(), EnvironmentKey(''), 'Path', Path) then
    Path := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure RemoveFromPath(Dir: String);
var
  Path: String;
  At: Integer;
begin
  if not RegQueryStringValue(RootKey(), EnvironmentKey(''), 'Path', Path) then
    exit;
  Path := ';' + Path + ';';
  At := Pos(';' + Uppercase(Dir) + ';', Uppercase(Path));
  if At = 0 then
    exit;
  Delete(Path, At, Length(Dir) + 1);
  Path := Copy(Path, 2, Length(Path) - 2);
  RegWriteExpandStringValue(RootKey(), EnvironmentKey(''), 'Path', Path);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemoveFromPath(ExpandConstant('{app}'));
end;
